//! Issue labels: `GET`, `POST` and `PUT /repos/{owner}/{repo}/issues/{number}/labels` and
//! `DELETE .../labels/{name}`, plus the label bookkeeping shared with issue writes.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::auth::GithubCaller;
use super::error::{GithubError, json_response};
use super::events::{self, Detail};
use super::{RepoRef, find_repo, parse_number, render};
use crate::app::{App, Shared};
use crate::clock::github_timestamp;
use crate::config::GithubUser;
use crate::state::GithubLabel;

/// Color of labels created implicitly, GitHub's default grey.
const DEFAULT_COLOR: &str = "ededed";

/// Reads label names from a `labels` value: an array of names or of `{"name": ...}` objects.
pub(crate) fn parse_names(value: &Value) -> Result<Vec<String>, GithubError> {
    let invalid = || GithubError::validation("Label", "labels", "invalid");
    let Value::Array(items) = value else {
        return Err(invalid());
    };
    items
        .iter()
        .map(|item| {
            let name = match item {
                Value::String(name) => Some(name.as_str()),
                Value::Object(fields) => fields.get("name").and_then(Value::as_str),
                _ => None,
            };
            match name.map(str::trim) {
                Some(name) if !name.is_empty() => Ok(name.to_owned()),
                _ => Err(invalid()),
            }
        })
        .collect()
}

/// Maps requested names to the repository's spelling (names compare case-insensitively),
/// creates labels that do not exist yet, and drops duplicates.
pub(crate) fn resolve(shared: &mut Shared, repo: &RepoRef, names: &[String]) -> Vec<String> {
    let mut resolved: Vec<String> = Vec::new();
    for name in names {
        let existing = shared
            .store
            .github
            .labels
            .iter()
            .find(|label| label.repo == repo.full_name && label.name.eq_ignore_ascii_case(name))
            .map(|label| label.name.clone());
        let canonical = match existing {
            Some(found) => found,
            None => {
                let id = shared.store.ids.next_github_label();
                shared.store.github.labels.push(GithubLabel {
                    repo: repo.full_name.clone(),
                    id,
                    node_id: render::node_id("Label", id),
                    name: name.clone(),
                    color: DEFAULT_COLOR.to_owned(),
                    description: None,
                });
                name.clone()
            }
        };
        if !resolved.contains(&canonical) {
            resolved.push(canonical);
        }
    }
    resolved
}

/// Labels to add and remove to get from `current` to `desired`.
#[derive(Debug, Default)]
pub(crate) struct LabelDiff {
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
}

impl LabelDiff {
    pub(crate) fn between(current: &[String], desired: &[String]) -> Self {
        LabelDiff {
            added: desired
                .iter()
                .filter(|name| !current.contains(name))
                .cloned()
                .collect(),
            removed: current
                .iter()
                .filter(|name| !desired.contains(name))
                .cloned()
                .collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Records one `labeled` or `unlabeled` event per changed label. Call after the issue's labels
/// were updated.
pub(crate) fn emit_events(
    app: &App,
    shared: &mut Shared,
    repo: &RepoRef,
    number: u64,
    sender: &GithubUser,
    diff: &LabelDiff,
) {
    let changes = diff
        .removed
        .iter()
        .map(|name| ("unlabeled", name))
        .chain(diff.added.iter().map(|name| ("labeled", name)));
    for (action, name) in changes {
        let label = shared
            .store
            .github
            .labels
            .iter()
            .find(|label| label.repo == repo.full_name && &label.name == name)
            .map(|label| render::label(&app.urls, label))
            .unwrap_or(Value::Null);
        events::emit(
            app,
            shared,
            repo,
            number,
            sender,
            action,
            Detail::Label(label),
        );
    }
}

/// Replaces the labels of issue `number` with `desired` (already resolved), bumps
/// `updated_at` and records the events. Returns the issue's labels as JSON.
fn write_labels(
    app: &App,
    shared: &mut Shared,
    repo: &RepoRef,
    number: u64,
    caller: &GithubUser,
    desired: Vec<String>,
) -> Result<Vec<Value>, GithubError> {
    let current = issue_labels(shared, repo, number)?;
    let diff = LabelDiff::between(&current, &desired);
    if !diff.is_empty() {
        let now = github_timestamp(shared.github_clock.tick());
        let issue = shared
            .store
            .github
            .issues
            .iter_mut()
            .find(|issue| issue.repo == repo.full_name && issue.number == number)
            .ok_or_else(GithubError::not_found)?;
        issue.labels = desired.clone();
        issue.updated_at = now;
        emit_events(app, shared, repo, number, caller, &diff);
    }
    Ok(render::labels(
        &app.urls,
        &shared.store.github,
        &repo.full_name,
        &desired,
    ))
}

fn issue_labels(shared: &Shared, repo: &RepoRef, number: u64) -> Result<Vec<String>, GithubError> {
    shared
        .store
        .github
        .issues
        .iter()
        .find(|issue| issue.repo == repo.full_name && issue.number == number)
        .map(|issue| issue.labels.clone())
        .ok_or_else(GithubError::not_found)
}

/// Reads the names from a labels request body: `{"labels": [...]}` or a bare array.
fn names_from_body(body: &Bytes) -> Result<Vec<String>, GithubError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| GithubError::problems_parsing_json())?;
    match &value {
        Value::Array(_) => parse_names(&value),
        Value::Object(fields) => match fields.get("labels") {
            Some(labels) => parse_names(labels),
            None => Err(GithubError::validation("Label", "labels", "missing_field")),
        },
        _ => Err(GithubError::problems_parsing_json()),
    }
}

/// `GET /repos/{owner}/{repo}/issues/{number}/labels`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path((owner, name, number)): Path<(String, String, String)>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let shared = app.lock();
    let names = issue_labels(&shared, &repo, number)?;
    let labels = render::labels(&app.urls, &shared.store.github, &repo.full_name, &names);
    Ok(json_response(StatusCode::OK, &Value::Array(labels)))
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels`: adds labels and returns all of them.
pub(crate) async fn add(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let requested = names_from_body(&body)?;
    let mut shared = app.lock();
    let mut desired = issue_labels(&shared, &repo, number)?;
    for name in resolve(&mut shared, &repo, &requested) {
        if !desired.contains(&name) {
            desired.push(name);
        }
    }
    let labels = write_labels(&app, &mut shared, &repo, number, &caller, desired)?;
    Ok(json_response(StatusCode::OK, &Value::Array(labels)))
}

/// `PUT /repos/{owner}/{repo}/issues/{number}/labels`: replaces all labels.
pub(crate) async fn set(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let requested = names_from_body(&body)?;
    let mut shared = app.lock();
    issue_labels(&shared, &repo, number)?;
    let desired = resolve(&mut shared, &repo, &requested);
    let labels = write_labels(&app, &mut shared, &repo, number, &caller, desired)?;
    Ok(json_response(StatusCode::OK, &Value::Array(labels)))
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}`: removes one label and returns
/// the rest, or 404 when the issue does not have it.
pub(crate) async fn remove(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, number, label)): Path<(String, String, String, String)>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let mut shared = app.lock();
    let current = issue_labels(&shared, &repo, number)?;
    if !current.iter().any(|name| name.eq_ignore_ascii_case(&label)) {
        return Err(GithubError::new(
            StatusCode::NOT_FOUND,
            "Label does not exist",
        ));
    }
    let desired = current
        .into_iter()
        .filter(|name| !name.eq_ignore_ascii_case(&label))
        .collect();
    let labels = write_labels(&app, &mut shared, &repo, number, &caller, desired)?;
    Ok(json_response(StatusCode::OK, &Value::Array(labels)))
}
