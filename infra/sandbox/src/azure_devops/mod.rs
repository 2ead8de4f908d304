//! The fake Azure DevOps organization, mounted under `/azure-devops/{organization}`.
//!
//! It serves the work item tracking subset that proxysync calls: connection data, work item
//! create (`POST .../_apis/wit/workitems/${type}`) and update (`PATCH`), both with JSON Patch
//! bodies (`application/json-patch+json`, anything else gets 415), work item comments,
//! projects and permission evaluation. Requests authenticate with a personal access token as
//! the Basic password. Every write records the service hook delivery that a Web Hooks
//! subscription would send (`workitem.created`, `workitem.updated`, `workitem.commented`,
//! resource version 1.0), with the subscription's Basic authentication or custom header.
//! As in resource version 1.0, `System.ChangedBy` and `System.CreatedBy` are
//! `Display Name <unique name>` strings; only `revisedBy` of an update carries an identity id.

mod events;
mod handlers;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::clock::LogicalClock;

/// Users, projects and the service hook subscription of the fake organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureDevopsConfig {
    /// The organization name, the first path segment under `/azure-devops`.
    pub organization: String,
    pub users: Vec<AzureDevopsUser>,
    /// Team project names.
    pub projects: Vec<String>,
    /// States a work item may take; the first is where new items start.
    pub states: Vec<String>,
    /// Basic authentication the subscription sends, as "user:password".
    pub hook_basic_auth: String,
    /// A custom header the subscription sends as well, as (name, value).
    #[serde(default)]
    pub hook_header: Option<(String, String)>,
}

/// An Azure DevOps identity with a personal access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureDevopsUser {
    /// The identity id, a GUID.
    pub id: String,
    pub display_name: String,
    /// The sign-in name, such as an email address.
    pub unique_name: String,
    pub pat: String,
    /// Member of Project Collection Administrators.
    pub collection_admin: bool,
    /// Projects where the user is a Project Administrator.
    pub project_admin: Vec<String>,
}

impl AzureDevopsConfig {
    /// Builds the demo organization "acme" with the project "Web Shop", the proxy user and the
    /// developer Dave, and the Agile process states.
    pub fn demo() -> Self {
        AzureDevopsConfig {
            organization: "acme".to_owned(),
            users: vec![
                AzureDevopsUser {
                    id: "00000000-0000-4000-8000-0000000ad001".to_owned(),
                    display_name: "ProxySync Bot".to_owned(),
                    unique_name: "proxysync-bot@acme.example".to_owned(),
                    pat: "sandbox-azure-devops-pat-proxysync".to_owned(),
                    collection_admin: true,
                    project_admin: vec!["Web Shop".to_owned()],
                },
                AzureDevopsUser {
                    id: "00000000-0000-4000-8000-0000000ad002".to_owned(),
                    display_name: "Dave Developer".to_owned(),
                    unique_name: "dave@acme.example".to_owned(),
                    pat: "sandbox-azure-devops-pat-dave".to_owned(),
                    collection_admin: false,
                    project_admin: Vec::new(),
                },
            ],
            projects: vec!["Web Shop".to_owned()],
            states: ["New", "Active", "Resolved", "Closed", "Removed"]
                .map(str::to_owned)
                .to_vec(),
            hook_basic_auth: "proxysync-hook:sandbox-azure-devops-hook-password".to_owned(),
            hook_header: None,
        }
    }

    /// Returns the id the sandbox gives a project: a GUID derived from its position.
    pub fn project_id(&self, name: &str) -> Option<String> {
        self.projects
            .iter()
            .position(|known| known.eq_ignore_ascii_case(name))
            .map(|index| format!("00000000-0000-4000-8000-00000000b{index:03}"))
    }
}

/// Work items and comments of the fake organization, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AzureDevopsState {
    pub work_items: Vec<AzureWorkItem>,
    pub comments: Vec<AzureComment>,
}

/// A work item with the fields proxysync syncs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AzureWorkItem {
    pub id: u64,
    pub rev: u64,
    pub project: String,
    pub work_item_type: String,
    pub title: String,
    /// `System.Description`, HTML.
    pub description: String,
    pub state: String,
    /// `System.Tags`, "a; b".
    pub tags: String,
    pub created_by: String,
    pub changed_by: String,
    pub created_date: String,
    pub changed_date: String,
    /// Hyperlink relations, as URLs.
    pub hyperlinks: Vec<String>,
}

/// A comment of the work item comments API, with HTML text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AzureComment {
    pub id: u64,
    pub work_item_id: u64,
    pub text: String,
    pub created_by: String,
    pub version: u64,
}

/// The stored records, the sequences and the clock of the fake organization.
#[derive(Debug)]
pub(crate) struct AzureStore {
    pub(crate) state: AzureDevopsState,
    pub(crate) notifications: u64,
    next_comment: u64,
    pub(crate) clock: LogicalClock,
}

impl Default for AzureStore {
    fn default() -> Self {
        AzureStore {
            state: AzureDevopsState::default(),
            notifications: 0,
            next_comment: 0,
            clock: LogicalClock::jira(),
        }
    }
}

impl AzureStore {
    pub(crate) fn next_comment_id(&mut self) -> u64 {
        self.next_comment += 1;
        2_743_800 + self.next_comment
    }

    /// Clears the records and keeps the clock.
    pub(crate) fn reset(&mut self) {
        self.state = AzureDevopsState::default();
        self.notifications = 0;
        self.next_comment = 0;
    }
}

/// An error in Azure DevOps' shape: `{"message", "typeKey", ...}`.
#[derive(Debug)]
pub(crate) struct AzureError {
    status: StatusCode,
    type_key: &'static str,
    message: String,
}

impl AzureError {
    pub(crate) fn new(
        status: StatusCode,
        type_key: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AzureError {
            status,
            type_key,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        AzureError::new(
            StatusCode::NOT_FOUND,
            "WorkItemUnauthorizedAccessException",
            message,
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        AzureError::new(StatusCode::BAD_REQUEST, "RuleValidationException", message)
    }

    pub(crate) fn unauthorized() -> Self {
        AzureError::new(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedRequestException",
            "TF400813: The user is not authorized to access this resource.",
        )
    }
}

impl IntoResponse for AzureError {
    fn into_response(self) -> Response {
        json_response(self.status, &error_body(self.type_key, &self.message))
    }
}

/// Builds the JSON error body Azure DevOps sends.
pub(crate) fn error_body(type_key: &str, message: &str) -> Value {
    json!({
        "$id": "1",
        "innerException": null,
        "message": message,
        "typeName": format!("Microsoft.TeamFoundation.{type_key}"),
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    })
}

/// Builds a response with a JSON body.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The authenticated Azure DevOps user, put in the request extensions by the gateway.
#[derive(Debug, Clone)]
pub(crate) struct AzureCaller(pub(crate) AzureDevopsUser);

/// Finds the user whose personal access token is the password of a Basic header.
pub(crate) fn authenticate(
    config: &AzureDevopsConfig,
    headers: &HeaderMap,
) -> Result<AzureDevopsUser, AzureError> {
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("Basic "))
        .and_then(|encoded| BASE64.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(AzureError::unauthorized)?;
    let (_, pat) = decoded
        .split_once(':')
        .ok_or_else(AzureError::unauthorized)?;
    config
        .users
        .iter()
        .find(|user| user.pat == pat)
        .cloned()
        .ok_or_else(AzureError::unauthorized)
}

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/{organization}/_apis/connectionData",
            get(handlers::connection_data),
        )
        .route(
            "/{organization}/_apis/projects/{project}",
            get(handlers::project),
        )
        .route(
            "/{organization}/_apis/permissions/{namespace}/{bits}",
            get(handlers::permissions),
        )
        .route(
            "/{organization}/_apis/wit/workitems/{id}",
            get(handlers::get_work_item).patch(handlers::update_work_item),
        )
        .route(
            "/{organization}/{project}/_apis/wit/workitems/{kind}",
            post(handlers::create_work_item),
        )
        .route(
            "/{organization}/{project}/_apis/wit/workItems/{id}/comments",
            post(handlers::add_comment),
        )
        .route(
            "/{organization}/{project}/_apis/wit/workItems/{id}/comments/{comment_id}",
            axum::routing::patch(handlers::update_comment).delete(handlers::delete_comment),
        )
        .fallback(handlers::not_found)
}
