//! Jira REST error responses: `{"errorMessages": [...], "errors": {field: message}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error response in Jira's shape.
#[derive(Debug)]
pub(crate) struct JiraError {
    status: StatusCode,
    messages: Vec<String>,
    errors: Map<String, Value>,
}

impl JiraError {
    /// Builds an error with one entry in `errorMessages`.
    pub(crate) fn message(status: StatusCode, message: impl Into<String>) -> Self {
        JiraError {
            status,
            messages: vec![message.into()],
            errors: Map::new(),
        }
    }

    /// 400 with one entry in `errors`, keyed by the rejected field.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.to_owned(), Value::String(message.into()));
        JiraError {
            status: StatusCode::BAD_REQUEST,
            messages: Vec::new(),
            errors,
        }
    }

    /// 404 for an unknown issue or project. Jira returns the same error for an issue the
    /// caller may not see.
    pub(crate) fn issue_not_found() -> Self {
        JiraError::message(
            StatusCode::NOT_FOUND,
            "Issue does not exist or you do not have permission to see it.",
        )
    }

    /// 401 for missing or wrong Basic credentials.
    pub(crate) fn unauthorized() -> Self {
        JiraError::message(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated. Authentication required to perform this operation.",
        )
    }

    /// 400 for a body that is not valid JSON or has the wrong shape.
    pub(crate) fn invalid_body(detail: impl std::fmt::Display) -> Self {
        JiraError::message(
            StatusCode::BAD_REQUEST,
            format!(
                "Invalid request payload. Refer to the REST API documentation and try again. ({detail})"
            ),
        )
    }

    /// Builds Jira's "cannot be set" error, for a field the sandbox does not model.
    pub(crate) fn unknown_field(field: &str) -> Self {
        JiraError::field(
            field,
            format!(
                "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
            ),
        )
    }
}

impl IntoResponse for JiraError {
    fn into_response(self) -> Response {
        let body = json!({ "errorMessages": self.messages, "errors": self.errors });
        json_response(self.status, &body)
    }
}

/// Builds a response with a JSON body and Jira's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}
