//! Issues: `GET` and `POST /repos/{owner}/{repo}/issues`, `GET` and
//! `PATCH /repos/{owner}/{repo}/issues/{number}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::auth::GithubCaller;
use super::error::{GithubError, json_response};
use super::events::{self, Detail};
use super::labels::{self, LabelDiff};
use super::{
    find_repo, is_at_or_after, list_response, paginate, parse_number, parse_object, parse_since,
    render,
};
use crate::app::App;
use crate::clock::github_timestamp;
use crate::state::GithubIssue;

const CLOSE_REASONS: [&str; 3] = ["completed", "not_planned", "duplicate"];

/// `GET /repos/{owner}/{repo}/issues`, with the `state`, `labels`, `creator`, `since`, `sort`,
/// `direction`, `per_page` and `page` query parameters.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path((owner, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let since = parse_since(&params)?;
    let state_filter = params.get("state").map_or("open", String::as_str);
    if !matches!(state_filter, "open" | "closed" | "all") {
        return Err(GithubError::validation("Issue", "state", "invalid"));
    }
    let label_filter: Vec<&str> = params
        .get("labels")
        .map(|labels| {
            labels
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator_id = match params.get("creator") {
        Some(login) => match app
            .config
            .github
            .users
            .iter()
            .find(|user| user.login.eq_ignore_ascii_case(login))
        {
            Some(user) => Some(user.id),
            None => return Err(GithubError::validation("Issue", "creator", "invalid")),
        },
        None => None,
    };

    let shared = app.lock();
    let mut issues: Vec<&GithubIssue> = shared
        .store
        .github
        .issues
        .iter()
        .filter(|issue| issue.repo == repo.full_name)
        .filter(|issue| state_filter == "all" || issue.state == state_filter)
        .filter(|issue| {
            label_filter
                .iter()
                .all(|filter| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(filter)))
        })
        .filter(|issue| creator_id.is_none_or(|id| issue.author_id == id))
        .filter(|issue| is_at_or_after(&issue.updated_at, since))
        .collect();
    match params.get("sort").map_or("created", String::as_str) {
        "updated" => issues.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.id.cmp(&b.id))),
        "comments" => issues.sort_by(|a, b| a.comments.cmp(&b.comments).then(a.id.cmp(&b.id))),
        _ => issues.sort_by_key(|issue| issue.id),
    }
    if params.get("direction").map_or("desc", String::as_str) != "asc" {
        issues.reverse();
    }
    let rendered: Vec<Value> = issues
        .into_iter()
        .map(|issue| render::issue(&app.config.github, &app.urls, &shared.store.github, issue))
        .collect();
    let page_url = format!("{}/repos/{}/issues", app.urls.github_api, repo.full_name);
    let (page, link) = paginate(rendered, &params, &page_url);
    Ok(list_response(page, link))
}

/// `POST /repos/{owner}/{repo}/issues` with `title`, `body` and `labels`. Records `opened`, then
/// one `labeled` per label, as GitHub does.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let fields = parse_object(&body)?;
    let title = match fields.get("title") {
        None | Some(Value::Null) => {
            return Err(GithubError::validation("Issue", "title", "missing_field"));
        }
        Some(value) => parse_title(value)?,
    };
    let text = parse_body(fields.get("body").unwrap_or(&Value::Null))?;
    let requested_labels = match fields.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => labels::parse_names(value)?,
    };

    let mut shared = app.lock();
    let now = github_timestamp(shared.github_clock.tick());
    let label_names = labels::resolve(&mut shared, &repo, &requested_labels);
    let number = shared
        .store
        .github
        .issues
        .iter()
        .filter(|issue| issue.repo == repo.full_name)
        .count() as u64
        + 1;
    let id = shared.store.ids.next_github_issue();
    shared.store.github.issues.push(GithubIssue {
        repo: repo.full_name.clone(),
        number,
        id,
        node_id: render::node_id("Issue", id),
        title,
        body: text,
        state: "open".to_owned(),
        state_reason: None,
        labels: label_names.clone(),
        author_id: caller.id,
        comments: 0,
        created_at: now.clone(),
        updated_at: now,
        closed_at: None,
        closed_by_id: None,
    });
    events::emit(
        &app,
        &mut shared,
        &repo,
        number,
        &caller,
        "opened",
        Detail::None,
    );
    let diff = LabelDiff {
        added: label_names,
        removed: Vec::new(),
    };
    labels::emit_events(&app, &mut shared, &repo, number, &caller, &diff);

    let issue = shared
        .store
        .github
        .issues
        .last()
        .expect("the issue was just pushed");
    let rendered = render::issue(&app.config.github, &app.urls, &shared.store.github, issue);
    let mut response = json_response(StatusCode::CREATED, &rendered);
    if let Some(url) = rendered["url"].as_str()
        && let Ok(value) = HeaderValue::from_str(url)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `GET /repos/{owner}/{repo}/issues/{number}`.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path((owner, name, number)): Path<(String, String, String)>,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let shared = app.lock();
    let issue = shared
        .store
        .github
        .issues
        .iter()
        .find(|issue| issue.repo == repo.full_name && issue.number == number)
        .ok_or_else(GithubError::not_found)?;
    let rendered = render::issue(&app.config.github, &app.urls, &shared.store.github, issue);
    Ok(json_response(StatusCode::OK, &rendered))
}

/// The validated fields of a `PATCH` request. `None` leaves a field unchanged.
struct IssuePatch {
    title: Option<String>,
    body: Option<Option<String>>,
    state: Option<String>,
    state_reason: Option<Option<String>>,
    labels: Option<Vec<String>>,
}

impl IssuePatch {
    fn parse(fields: &Map<String, Value>) -> Result<Self, GithubError> {
        let title = fields.get("title").map(parse_title).transpose()?;
        let body = fields.get("body").map(parse_body).transpose()?;
        let state = match fields.get("state") {
            None => None,
            Some(Value::String(state)) if state == "open" || state == "closed" => {
                Some(state.clone())
            }
            Some(_) => return Err(GithubError::validation("Issue", "state", "invalid")),
        };
        let state_reason = match fields.get("state_reason") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(reason))
                if CLOSE_REASONS.contains(&reason.as_str()) || reason == "reopened" =>
            {
                Some(Some(reason.clone()))
            }
            Some(_) => return Err(GithubError::validation("Issue", "state_reason", "invalid")),
        };
        let labels = match fields.get("labels") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(value) => Some(labels::parse_names(value)?),
        };
        Ok(IssuePatch {
            title,
            body,
            state,
            state_reason,
            labels,
        })
    }
}

/// `PATCH /repos/{owner}/{repo}/issues/{number}` with `title`, `body`, `state`, `state_reason`
/// and `labels` (which replaces all labels). Records `edited` with `changes` when the title or
/// body changed, then `unlabeled`/`labeled`, then `closed` or `reopened`. A request that
/// changes nothing records nothing and leaves `updated_at` alone.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(caller)): Extension<GithubCaller>,
    Path((owner, name, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, GithubError> {
    let repo = find_repo(&app.config.github, &owner, &name)?;
    let number = parse_number(&number)?;
    let patch = IssuePatch::parse(&parse_object(&body)?)?;

    let mut shared = app.lock();
    let index = shared
        .store
        .github
        .issues
        .iter()
        .position(|issue| issue.repo == repo.full_name && issue.number == number)
        .ok_or_else(GithubError::not_found)?;
    let current = shared.store.github.issues[index].clone();

    let closing = patch.state.as_deref() == Some("closed") && current.state == "open";
    let reopening = patch.state.as_deref() == Some("open") && current.state == "closed";
    let close_reason = match patch.state_reason.clone().flatten() {
        Some(reason) if closing && reason == "reopened" => {
            return Err(GithubError::validation("Issue", "state_reason", "invalid"));
        }
        Some(reason) => reason,
        None => "completed".to_owned(),
    };
    let desired_labels = match &patch.labels {
        Some(names) => labels::resolve(&mut shared, &repo, names),
        None => current.labels.clone(),
    };
    let label_diff = LabelDiff::between(&current.labels, &desired_labels);

    let mut changes = Map::new();
    if let Some(title) = &patch.title
        && *title != current.title
    {
        changes.insert("title".to_owned(), json!({ "from": current.title }));
    }
    if let Some(body) = &patch.body
        && *body != current.body
    {
        changes.insert("body".to_owned(), json!({ "from": current.body }));
    }

    if !changes.is_empty() || !label_diff.is_empty() || closing || reopening {
        let now = github_timestamp(shared.github_clock.tick());
        let issue = &mut shared.store.github.issues[index];
        if let Some(title) = patch.title {
            issue.title = title;
        }
        if let Some(body) = patch.body {
            issue.body = body;
        }
        issue.labels = desired_labels;
        if closing {
            issue.state = "closed".to_owned();
            issue.state_reason = Some(close_reason);
            issue.closed_at = Some(now.clone());
            issue.closed_by_id = Some(caller.id);
        }
        if reopening {
            issue.state = "open".to_owned();
            issue.state_reason = Some("reopened".to_owned());
            issue.closed_at = None;
            issue.closed_by_id = None;
        }
        issue.updated_at = now;

        if !changes.is_empty() {
            let detail = Detail::Changes(Value::Object(changes));
            events::emit(&app, &mut shared, &repo, number, &caller, "edited", detail);
        }
        labels::emit_events(&app, &mut shared, &repo, number, &caller, &label_diff);
        if closing {
            events::emit(
                &app,
                &mut shared,
                &repo,
                number,
                &caller,
                "closed",
                Detail::None,
            );
        }
        if reopening {
            events::emit(
                &app,
                &mut shared,
                &repo,
                number,
                &caller,
                "reopened",
                Detail::None,
            );
        }
    }

    let issue = &shared.store.github.issues[index];
    let rendered = render::issue(&app.config.github, &app.urls, &shared.store.github, issue);
    Ok(json_response(StatusCode::OK, &rendered))
}

/// Reads a title: a non-empty string, or a number, which GitHub also accepts.
fn parse_title(value: &Value) -> Result<String, GithubError> {
    let title = match value {
        Value::String(title) => title.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err(GithubError::validation("Issue", "title", "invalid")),
    };
    if title.trim().is_empty() {
        return Err(GithubError::validation("Issue", "title", "missing_field"));
    }
    Ok(title)
}

/// Reads an issue body: a string, or `null` for no body.
fn parse_body(value: &Value) -> Result<Option<String>, GithubError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(GithubError::validation("Issue", "body", "invalid")),
    }
}
