//! The fake Jira Cloud REST API (v3), mounted under `/jira`.

mod adf;
pub(crate) mod auth;
mod comments;
pub(crate) mod error;
mod events;
mod issues;
pub(crate) mod operations;
mod remote_links;
mod render;
mod transitions;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::app::App;
use crate::config::JiraConfig;
use crate::state::JiraState;
use auth::JiraCaller;
use error::{JiraError, json_response};

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/rest/api/3/myself", get(myself))
        .route("/rest/api/3/issue", post(issues::create))
        .route(
            "/rest/api/3/issue/{issue}",
            get(issues::get).put(issues::update),
        )
        .route(
            "/rest/api/3/issue/{issue}/transitions",
            get(transitions::list).post(transitions::perform),
        )
        .route(
            "/rest/api/3/issue/{issue}/comment",
            get(comments::list).post(comments::create),
        )
        .route(
            "/rest/api/3/issue/{issue}/comment/{comment_id}",
            get(comments::get)
                .put(comments::update)
                .delete(comments::delete),
        )
        .route(
            "/rest/api/3/issue/{issue}/remotelink",
            get(remote_links::list).post(remote_links::create_or_update),
        )
        .route("/rest/api/3/search/jql", post(operations::search))
        .route("/rest/api/3/mypermissions", get(operations::my_permissions))
        .fallback(not_found)
}

/// `GET /rest/api/3/myself`: the account the credentials belong to.
async fn myself(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(user)): Extension<JiraCaller>,
) -> Response {
    let mut body = render::user(&app.urls, &user);
    if let Value::Object(fields) = &mut body {
        fields.insert("emailAddress".to_owned(), Value::String(user.email.clone()));
        fields.insert("locale".to_owned(), Value::String("en_US".to_owned()));
    }
    json_response(StatusCode::OK, &body)
}

async fn not_found() -> Response {
    JiraError::message(
        StatusCode::NOT_FOUND,
        "No resource matches the request path in the sandbox.",
    )
    .into_response()
}

/// A status of the sandbox's fixed workflow. Every status can be reached from the other two
/// through the transition named after the target status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Status {
    pub(crate) name: &'static str,
    pub(crate) id: &'static str,
    pub(crate) transition_id: &'static str,
    pub(crate) category_key: &'static str,
    pub(crate) category_id: u32,
    pub(crate) category_name: &'static str,
    pub(crate) category_color: &'static str,
}

/// The workflow: "To Do" (category new), "In Progress" (indeterminate) and "Done" (done).
/// Category ids and keys are Jira's built-in ones: 2 "new", 4 "indeterminate", 3 "done".
pub(crate) const WORKFLOW: [Status; 3] = [
    Status {
        name: "To Do",
        id: "10000",
        transition_id: "11",
        category_key: "new",
        category_id: 2,
        category_name: "To Do",
        category_color: "blue-gray",
    },
    Status {
        name: "In Progress",
        id: "3",
        transition_id: "21",
        category_key: "indeterminate",
        category_id: 4,
        category_name: "In Progress",
        category_color: "yellow",
    },
    Status {
        name: "Done",
        id: "10001",
        transition_id: "31",
        category_key: "done",
        category_id: 3,
        category_name: "Done",
        category_color: "green",
    },
];

pub(crate) fn status_named(name: &str) -> Status {
    WORKFLOW
        .iter()
        .copied()
        .find(|status| status.name == name)
        .unwrap_or(WORKFLOW[0])
}

/// Issue types every project offers, as (id, name).
pub(crate) const ISSUE_TYPES: [(&str, &str); 3] =
    [("10001", "Task"), ("10002", "Bug"), ("10003", "Story")];

/// A configured project, with the id the sandbox derives from its position in the config.
#[derive(Debug, Clone)]
pub(crate) struct ProjectRef {
    pub(crate) key: String,
    pub(crate) id: String,
}

/// Finds a project by key (case-insensitive) or by id.
pub(crate) fn find_project(config: &JiraConfig, key_or_id: &str) -> Option<ProjectRef> {
    config
        .projects
        .iter()
        .enumerate()
        .map(|(index, key)| ProjectRef {
            key: key.clone(),
            id: (10_000 + index).to_string(),
        })
        .find(|project| project.key.eq_ignore_ascii_case(key_or_id) || project.id == key_or_id)
}

/// Finds the position of an issue by key (case-insensitive) or id, or returns a 404 error.
pub(crate) fn issue_index(state: &JiraState, key_or_id: &str) -> Result<usize, JiraError> {
    state
        .issues
        .iter()
        .position(|issue| issue.key.eq_ignore_ascii_case(key_or_id) || issue.id == key_or_id)
        .ok_or_else(JiraError::issue_not_found)
}

/// Parses a JSON request body into an object.
pub(crate) fn parse_object(body: &Bytes) -> Result<Map<String, Value>, JiraError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(JiraError::invalid_body("the body must be a JSON object")),
        Err(error) => Err(JiraError::invalid_body(error)),
    }
}
