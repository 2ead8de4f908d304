//! Issue comments: `GET` and `POST /repos/{owner}/{repo}/issues/{number}/comments`, and `GET`,
//! `PATCH` and `DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::GithubCaller;
use super::error::{GithubError, json_response};
use super::events::{self, Detail};
use super::{
    RepoRef, find_repo, is_at_or_after, list_response, paginate, parse_number, parse_object,
    parse_since, render,
};
use crate::app::{App, Shared};
use crate::clock::github_timestamp;
use crate::state::GithubComment;

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`, oldest first, with the `since`,
/// `per_page` and `page` query parameters.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path((owner, name, number)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let since = parse_since(&params)?;
    let shared = app.lock();
    issue_index(&shared, &repo, number)?;
    let rendered: Vec<Value> = shared
        .store
        .github
        .comments
        .iter()
        .filter(|comment| comment.repo == repo.full_name && comment.issue_number == number)
        .filter(|comment| is_at_or_after(&comment.updated_at, since))
        .map(|comment| render::comment(&app.config.github, &app.urls, comment))
        .collect();
    let page_url = format!(
        "{}/repos/{}/issues/{number}/comments",
        app.urls.github_api, repo.full_name
    );
    let (page, link) = paginate(rendered, &params, &page_url);
    Ok(list_response(page, link))
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments` with `body`. Records
/// `issue_comment` `created` and bumps the issue's `comments` and `updated_at`.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let text = parse_comment_body(&body)?;

    let mut shared = app.lock();
    let index = issue_index(&shared, &repo, number)?;
    let now = github_timestamp(shared.github_clock.tick());
    let id = shared.store.ids.next_github_comment();
    let comment = GithubComment {
        repo: repo.full_name.clone(),
        issue_number: number,
        id,
        node_id: render::node_id("IssueComment", id),
        body: text,
        author_id: caller.id,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    shared.store.github.comments.push(comment.clone());
    let issue = &mut shared.store.github.issues[index];
    issue.comments += 1;
    issue.updated_at = now;
    let rendered = render::comment(&app.config.github, &app.urls, &comment);
    let detail = Detail::Comment {
        comment,
        changes: None,
    };
    events::emit(&app, &mut shared, &repo, number, &caller, "created", detail);

    let mut response = json_response(StatusCode::CREATED, &rendered);
    if let Some(url) = rendered["url"].as_str()
        && let Ok(value) = HeaderValue::from_str(url)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `GET /repos/{owner}/{repo}/issues/comments/{comment_id}`.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path((owner, name, comment_id)): Path<(String, String, String)>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let comment_id = parse_number(&comment_id)?;
    let shared = app.lock();
    let index = comment_index(&shared, &repo, comment_id)?;
    let comment = &shared.store.github.comments[index];
    let rendered = render::comment(&app.config.github, &app.urls, comment);
    Ok(json_response(StatusCode::OK, &rendered))
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}` with `body`. Records
/// `issue_comment` `edited` with `changes.body.from` when the body changed.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, comment_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let comment_id = parse_number(&comment_id)?;
    let text = parse_comment_body(&body)?;

    let mut shared = app.lock();
    let index = comment_index(&shared, &repo, comment_id)?;
    let previous = shared.store.github.comments[index].body.clone();
    if previous != text {
        let now = github_timestamp(shared.github_clock.tick());
        let comment = &mut shared.store.github.comments[index];
        comment.body = text;
        comment.updated_at = now;
        let detail = Detail::Comment {
            comment: comment.clone(),
            changes: Some(json!({ "body": { "from": previous } })),
        };
        let number = comment.issue_number;
        events::emit(&app, &mut shared, &repo, number, &caller, "edited", detail);
    }
    let comment = &shared.store.github.comments[index];
    let rendered = render::comment(&app.config.github, &app.urls, comment);
    Ok(json_response(StatusCode::OK, &rendered))
}

/// `DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}`: responds 204 and records
/// `issue_comment` `deleted` with the comment as it was.
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, comment_id)): Path<(String, String, String)>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let comment_id = parse_number(&comment_id)?;
    let mut shared = app.lock();
    let index = comment_index(&shared, &repo, comment_id)?;
    let comment = shared.store.github.comments.remove(index);
    let number = comment.issue_number;
    if let Ok(issue_index) = issue_index(&shared, &repo, number) {
        let issue = &mut shared.store.github.issues[issue_index];
        issue.comments = issue.comments.saturating_sub(1);
    }
    let detail = Detail::Comment {
        comment,
        changes: None,
    };
    events::emit(&app, &mut shared, &repo, number, &caller, "deleted", detail);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn issue_index(shared: &Shared, repo: &RepoRef, number: u64) -> Result<usize, GithubError> {
    shared
        .store
        .github
        .issues
        .iter()
        .position(|issue| issue.repo == repo.full_name && issue.number == number)
        .ok_or_else(GithubError::not_found)
}

fn comment_index(shared: &Shared, repo: &RepoRef, id: u64) -> Result<usize, GithubError> {
    shared
        .store
        .github
        .comments
        .iter()
        .position(|comment| comment.repo == repo.full_name && comment.id == id)
        .ok_or_else(GithubError::not_found)
}

/// Reads the required, non-empty `body` of a comment request.
fn parse_comment_body(body: &Bytes) -> Result<String, GithubError> {
    let fields = parse_object(body)?;
    match fields.get("body") {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(GithubError::validation(
            "IssueComment",
            "body",
            "missing_field",
        )),
        Some(_) => Err(GithubError::validation("IssueComment", "body", "invalid")),
    }
}
