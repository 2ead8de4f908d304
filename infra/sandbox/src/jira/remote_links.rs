//! Remote issue links: `GET` and `POST /rest/api/3/issue/{issueIdOrKey}/remotelink`.
//!
//! Remote link changes record no webhook.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::error::{JiraError, json_response};
use super::{issue_index, parse_object, render};
use crate::app::App;
use crate::state::JiraRemoteLink;

/// `GET /rest/api/3/issue/{issueIdOrKey}/remotelink`: all links of the issue, or with
/// `?globalId=` the one link with that global id (404 when there is none).
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, JiraError> {
    let shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let issue = &shared.store.jira.issues[index];
    let mut links = shared
        .store
        .jira
        .remote_links
        .iter()
        .filter(|link| link.issue_id == issue.id);
    if let Some(global_id) = params.get("globalId") {
        let link = links
            .find(|link| link.global_id.as_ref() == Some(global_id))
            .ok_or_else(|| {
                JiraError::message(
                    StatusCode::NOT_FOUND,
                    format!("No remote link with globalId '{global_id}' exists on this issue."),
                )
            })?;
        let body = render::remote_link(&app.urls, &issue.key, link);
        return Ok(json_response(StatusCode::OK, &body));
    }
    let body: Vec<Value> = links
        .map(|link| render::remote_link(&app.urls, &issue.key, link))
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(body)))
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/remotelink` with `object.url`, `object.title` and
/// optional `globalId`, `application` and `relationship`. A link on the same issue with the
/// same `globalId` is replaced (200). Otherwise a new link is created (201). Both
/// responses carry `{id, self}`.
pub(crate) async fn create_or_update(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = parse_object(&body)?;
    let Some(object) = request.get("object").filter(|o| o.is_object()) else {
        return Err(JiraError::field("object", "'object' is required."));
    };
    let text_field = |name: &str| match object.get(name) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        _ => Err(JiraError::field(name, format!("'{name}' is required."))),
    };
    let title = text_field("title")?;
    let url = text_field("url")?;
    let global_id = match request.get("globalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(JiraError::field("globalId", "'globalId' must be a string.")),
    };
    let relationship = request
        .get("relationship")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let application = request
        .get("application")
        .filter(|a| a.is_object())
        .cloned();

    let mut shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let issue_id = shared.store.jira.issues[index].id.clone();
    let issue_key = shared.store.jira.issues[index].key.clone();
    let existing = global_id.as_ref().and_then(|global_id| {
        shared.store.jira.remote_links.iter().position(|link| {
            link.issue_id == issue_id && link.global_id.as_ref() == Some(global_id)
        })
    });
    let (id, status) = match existing {
        Some(position) => (shared.store.jira.remote_links[position].id, StatusCode::OK),
        None => (
            shared.store.ids.next_jira_remote_link(),
            StatusCode::CREATED,
        ),
    };
    let link = JiraRemoteLink {
        id,
        issue_id,
        global_id,
        url,
        title,
        object: object.clone(),
        application,
        relationship,
    };
    match existing {
        Some(position) => shared.store.jira.remote_links[position] = link,
        None => shared.store.jira.remote_links.push(link),
    }
    let body = json!({ "id": id, "self": render::remote_link_self(&app.urls, &issue_key, id) });
    Ok(json_response(status, &body))
}
