//! Comments: `GET` and `POST /rest/api/3/issue/{issueIdOrKey}/comment`, and `GET`, `PUT` and
//! `DELETE /rest/api/3/issue/{issueIdOrKey}/comment/{id}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::JiraCaller;
use super::error::{JiraError, json_response};
use super::events;
use super::render::{self, Representation};
use super::{adf, issue_index, parse_object};
use crate::app::{App, Shared};
use crate::clock::jira_timestamp;
use crate::state::JiraComment;

/// Page size of `GET .../comment` when the request has no `maxResults`, as in the Jira REST
/// reference.
const DEFAULT_MAX_RESULTS: usize = 100;

/// `GET /rest/api/3/issue/{issueIdOrKey}/comment`, oldest first unless `orderBy=-created`,
/// with `startAt` and `maxResults`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, JiraError> {
    let start_at = params
        .get("startAt")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let max_results = params
        .get("maxResults")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_MAX_RESULTS);
    let shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let issue_id = &shared.store.jira.issues[index].id;
    let mut comments: Vec<&JiraComment> = shared
        .store
        .jira
        .comments
        .iter()
        .filter(|comment| &comment.issue_id == issue_id)
        .collect();
    if params.get("orderBy").map(String::as_str) == Some("-created") {
        comments.reverse();
    }
    let total = comments.len();
    let page: Vec<Value> = comments
        .into_iter()
        .skip(start_at)
        .take(max_results)
        .map(|comment| {
            render::comment(&app.config.jira, &app.urls, comment, Representation::RestV3)
        })
        .collect();
    let body = json!({
        "comments": page,
        "maxResults": max_results,
        "total": total,
        "startAt": start_at,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/comment` with `body` as an ADF document. Responds 201
/// with the comment, bumps the issue's `updated` and records `comment_created`.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let doc = parse_comment_body(&body)?;
    let mut shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let time = shared.jira_clock.tick();
    let now = jira_timestamp(time);
    let id = shared.store.ids.next_jira_comment();
    let issue = &mut shared.store.jira.issues[index];
    issue.updated = now.clone();
    let comment = JiraComment {
        id,
        issue_id: issue.id.clone(),
        body: doc,
        author_account_id: caller.account_id.clone(),
        update_author_account_id: caller.account_id.clone(),
        created: now.clone(),
        updated: now,
    };
    shared.store.jira.comments.push(comment.clone());
    events::emit_comment_event(&app, &mut shared, index, &comment, "comment_created", time);
    let rendered = render::comment(
        &app.config.jira,
        &app.urls,
        &comment,
        Representation::RestV3,
    );
    Ok(json_response(StatusCode::CREATED, &rendered))
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/comment/{id}`.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path((issue, comment_id)): Path<(String, String)>,
) -> Result<Response, JiraError> {
    let shared = app.lock();
    let (_, position) = find_comment(&shared, &issue, &comment_id)?;
    let comment = &shared.store.jira.comments[position];
    let rendered = render::comment(&app.config.jira, &app.urls, comment, Representation::RestV3);
    Ok(json_response(StatusCode::OK, &rendered))
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}/comment/{id}` with a new ADF `body`. Responds 200 with
/// the comment and records `comment_updated` when the body changed.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    Path((issue, comment_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let doc = parse_comment_body(&body)?;
    let mut shared = app.lock();
    let (issue_position, position) = find_comment(&shared, &issue, &comment_id)?;
    if shared.store.jira.comments[position].body != doc {
        let time = shared.jira_clock.tick();
        let now = jira_timestamp(time);
        shared.store.jira.issues[issue_position].updated = now.clone();
        let comment = &mut shared.store.jira.comments[position];
        comment.body = doc;
        comment.update_author_account_id = caller.account_id.clone();
        comment.updated = now;
        let comment = comment.clone();
        events::emit_comment_event(
            &app,
            &mut shared,
            issue_position,
            &comment,
            "comment_updated",
            time,
        );
    }
    let comment = &shared.store.jira.comments[position];
    let rendered = render::comment(&app.config.jira, &app.urls, comment, Representation::RestV3);
    Ok(json_response(StatusCode::OK, &rendered))
}

/// `DELETE /rest/api/3/issue/{issueIdOrKey}/comment/{id}`: responds 204 and records
/// `comment_deleted` with the comment as it was. The payload's `updateAuthor` is the last
/// editor, since Jira's comment events name no deleting user.
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Path((issue, comment_id)): Path<(String, String)>,
) -> Result<Response, JiraError> {
    let mut shared = app.lock();
    let (issue_position, position) = find_comment(&shared, &issue, &comment_id)?;
    let time = shared.jira_clock.tick();
    let comment = shared.store.jira.comments.remove(position);
    events::emit_comment_event(
        &app,
        &mut shared,
        issue_position,
        &comment,
        "comment_deleted",
        time,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Finds the issue and the comment on it, returning both positions.
fn find_comment(
    shared: &Shared,
    issue: &str,
    comment_id: &str,
) -> Result<(usize, usize), JiraError> {
    let issue_position = issue_index(&shared.store.jira, issue)?;
    let issue_id = &shared.store.jira.issues[issue_position].id;
    let position = shared
        .store
        .jira
        .comments
        .iter()
        .position(|comment| &comment.issue_id == issue_id && comment.id == comment_id)
        .ok_or_else(|| {
            JiraError::message(
                StatusCode::NOT_FOUND,
                format!("Can not find a comment for the id: {comment_id}."),
            )
        })?;
    Ok((issue_position, position))
}

/// Reads the required `body` of a comment request: an ADF document with some text.
fn parse_comment_body(body: &Bytes) -> Result<Value, JiraError> {
    let request = parse_object(body)?;
    match request.get("body") {
        Some(doc) if adf::is_document(doc) && !adf::is_blank(doc) => Ok(doc.clone()),
        Some(doc) if adf::is_document(doc) => Err(JiraError::field(
            "comment",
            "Comment body can not be empty!",
        )),
        None | Some(Value::Null) => Err(JiraError::field(
            "comment",
            "Comment body can not be empty!",
        )),
        Some(_) => Err(JiraError::field(
            "comment",
            "Comment body must be an Atlassian Document (see the Atlassian Document Format)",
        )),
    }
}
