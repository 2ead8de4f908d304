//! GitHub REST error responses: `{"message", "documentation_url", ...}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Documentation link GitHub puts in error bodies.
pub(crate) const DOCUMENTATION_URL: &str = "https://docs.github.com/rest";

/// An error response in GitHub's shape.
#[derive(Debug)]
pub(crate) struct GithubError {
    status: StatusCode,
    body: Value,
}

impl GithubError {
    /// Builds an error with `message` and the documentation link.
    pub(crate) fn new(status: StatusCode, message: &str) -> Self {
        GithubError {
            status,
            body: json!({ "message": message, "documentation_url": DOCUMENTATION_URL }),
        }
    }

    /// 404 for an unknown repository, issue or comment. GitHub also returns 404 for private
    /// resources the caller may not see.
    pub(crate) fn not_found() -> Self {
        GithubError {
            status: StatusCode::NOT_FOUND,
            body: json!({
                "message": "Not Found",
                "documentation_url": DOCUMENTATION_URL,
                "status": "404",
            }),
        }
    }

    /// 401 for a missing, malformed or unknown token.
    pub(crate) fn bad_credentials() -> Self {
        GithubError {
            status: StatusCode::UNAUTHORIZED,
            body: json!({
                "message": "Bad credentials",
                "documentation_url": DOCUMENTATION_URL,
                "status": "401",
            }),
        }
    }

    /// 403 for a request without a `User-Agent` header.
    pub(crate) fn missing_user_agent() -> Self {
        GithubError::new(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
        )
    }

    /// 400 for a body that is not valid JSON.
    pub(crate) fn problems_parsing_json() -> Self {
        GithubError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
    }

    /// 422 "Validation Failed" naming the rejected `field` of `resource`. `code` is one of
    /// GitHub's validation codes: "missing_field", "invalid" or "missing".
    pub(crate) fn validation(resource: &str, field: &str, code: &str) -> Self {
        GithubError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "message": "Validation Failed",
                "errors": [{ "resource": resource, "code": code, "field": field }],
                "documentation_url": DOCUMENTATION_URL,
                "status": "422",
            }),
        }
    }
}

impl IntoResponse for GithubError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// Builds a response with a JSON body and GitHub's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
