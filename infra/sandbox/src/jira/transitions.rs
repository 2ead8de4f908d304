//! Workflow transitions: `GET` and `POST /rest/api/3/issue/{issueIdOrKey}/transitions`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::JiraCaller;
use super::error::{JiraError, json_response};
use super::events::{self, ChangeItem, IssueEvent};
use super::{Status, WORKFLOW, issue_index, parse_object, render, status_named};
use crate::app::{App, Urls};
use crate::clock::jira_timestamp;

/// Transitions available from `current`: one to each other status.
fn available(current: &str) -> impl Iterator<Item = Status> + '_ {
    WORKFLOW
        .iter()
        .copied()
        .filter(move |status| status.name != current)
}

fn transition_json(urls: &Urls, status: &Status) -> Value {
    json!({
        "id": status.transition_id,
        "name": status.name,
        "to": render::status(urls, status),
        "hasScreen": false,
        "isGlobal": true,
        "isInitial": false,
        "isAvailable": true,
        "isConditional": false,
        "isLooped": false,
    })
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/transitions`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
) -> Result<Response, JiraError> {
    let shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let current = &shared.store.jira.issues[index].status;
    let transitions: Vec<Value> = available(current)
        .map(|status| transition_json(&app.urls, &status))
        .collect();
    let body = json!({ "expand": "transitions", "transitions": transitions });
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/transitions` with `{"transition": {"id": "31"}}`.
/// Responds 204 and records `jira:issue_updated` (type "issue_generic") with `resolution` and
/// `status` changelog items, or 400 for an id that is not available from the current status.
///
/// NOTE: `fields` and `update` in the request body are ignored, so a transition cannot also
/// edit the issue as it can on a real transition screen.
pub(crate) async fn perform(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = parse_object(&body)?;
    let transition_id = match request.get("transition").and_then(|t| t.get("id")) {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => {
            return Err(JiraError::message(
                StatusCode::BAD_REQUEST,
                "Missing 'transition' identifier",
            ));
        }
    };

    let mut shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let current = status_named(&shared.store.jira.issues[index].status);
    let target = available(current.name)
        .find(|status| status.transition_id == transition_id)
        .ok_or_else(|| {
            JiraError::message(
                StatusCode::BAD_REQUEST,
                format!("Transition id '{transition_id}' is not valid for this issue."),
            )
        })?;

    let time = shared.jira_clock.tick();
    let now = jira_timestamp(time);
    let mut items = Vec::new();
    let was_done = current.category_key == "done";
    let is_done = target.category_key == "done";
    if was_done != is_done {
        let (from, to) = if is_done {
            (None, Some("10000".to_owned()))
        } else {
            (Some("10000".to_owned()), None)
        };
        let label = |id: &Option<String>| id.as_ref().map(|_| "Done".to_owned());
        items.push(ChangeItem {
            field: "resolution",
            field_id: "resolution",
            from_string: label(&from),
            to_string: label(&to),
            from,
            to,
        });
    }
    items.push(ChangeItem {
        field: "status",
        field_id: "status",
        from: Some(current.id.to_owned()),
        from_string: Some(current.name.to_owned()),
        to: Some(target.id.to_owned()),
        to_string: Some(target.name.to_owned()),
    });

    let stored = &mut shared.store.jira.issues[index];
    stored.status = target.name.to_owned();
    stored.updated = now.clone();
    if current.category_key != target.category_key {
        stored.status_category_changed = now.clone();
    }
    stored.resolution_date = is_done.then_some(now);
    let event = IssueEvent {
        webhook_event: "jira:issue_updated",
        type_name: "issue_generic",
        items,
        time,
    };
    events::emit_issue_event(&app, &mut shared, index, &caller, event);
    Ok(StatusCode::NO_CONTENT.into_response())
}
