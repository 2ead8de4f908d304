//! The repository hook and its deliveries: `GET /repos/{owner}/{repo}/hooks/{hook_id}`,
//! `GET .../deliveries` and `POST .../deliveries/{delivery_id}/attempts`.
//!
//! Each repository has one hook, whose id is in every delivery's `X-GitHub-Hook-ID`. Each
//! recorded webhook is one delivery attempt; `Sandbox::set_github_delivery_status` records the
//! receiver's answer, and a redelivery records the same webhook again. Like GitHub, the list
//! shows only attempts that have an answer, so a webhook still waiting in the outbox is absent.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::error::{GithubError, json_response};
use super::{find_repo, parse_number};
use crate::app::App;
use crate::ops::GITHUB_HOOK_ID;

fn check_hook(app: &App, owner: &str, repo: &str, hook_id: &str) -> Result<u64, GithubError> {
    let repo = find_repo(&app.config.github, owner, repo)?;
    if parse_number(hook_id)? != GITHUB_HOOK_ID {
        return Err(GithubError::not_found());
    }
    Ok(repo.id)
}

fn delivery_json(delivery: &crate::ops::HookDelivery, repository_id: u64) -> Value {
    let status = match delivery.status_code {
        0 => "pending".to_owned(),
        200..=299 => "OK".to_owned(),
        code => format!("Invalid HTTP Response: {code}"),
    };
    json!({
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": delivery.delivered_at,
        "redelivery": delivery.redelivery,
        "duration": 0.1,
        "status": status,
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": null,
        "repository_id": repository_id,
    })
}

/// `GET /repos/{owner}/{repo}/hooks/{hook_id}`: the hook's settings and its last answer.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path((owner, repo, hook_id)): Path<(String, String, String)>,
) -> Result<Response, GithubError> {
    let repository_id = check_hook(&app, &owner, &repo, &hook_id)?;
    let shared = app.lock();
    let last = shared
        .ops
        .deliveries
        .iter()
        .rev()
        .find(|d| delivery_repo(&shared.ops, &d.guid) == Some(repository_id));
    let url = shared.ops.hook_url.clone().unwrap_or_else(|| {
        format!(
            "{}/webhooks/github/sandbox",
            app.urls.github_api.trim_end_matches("/github")
        )
    });
    let mut config = json!({"content_type": "json", "insecure_ssl": "0", "url": url});
    if !app.config.github.webhook_secret.is_empty() {
        config["secret"] = json!("********");
    }
    let body = json!({
        "type": "Repository",
        "id": GITHUB_HOOK_ID,
        "name": "web",
        "active": true,
        "events": ["issues", "issue_comment"],
        "config": config,
        "last_response": {
            "code": last.map(|d| d.status_code).filter(|code| *code != 0),
            "status": if last.is_some() { "active" } else { "unused" },
            "message": null,
        },
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn delivery_repo(ops: &crate::ops::OpsState, guid: &str) -> Option<u64> {
    ops.webhooks
        .get(guid)?
        .header("X-GitHub-Hook-Installation-Target-ID")?
        .parse()
        .ok()
}

/// `GET .../hooks/{hook_id}/deliveries`: attempts of this repository, newest first, at most
/// `per_page` (default 30, at most 100). The `cursor` parameter is ignored.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path((owner, repo, hook_id)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GithubError> {
    let repository_id = check_hook(&app, &owner, &repo, &hook_id)?;
    let per_page = params
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let shared = app.lock();
    let items: Vec<Value> = shared
        .ops
        .deliveries
        .iter()
        .rev()
        .filter(|d| d.status_code != 0)
        .filter(|d| delivery_repo(&shared.ops, &d.guid) == Some(repository_id))
        .take(per_page)
        .map(|d| delivery_json(d, repository_id))
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(items)))
}

/// `POST .../deliveries/{delivery_id}/attempts`: records the delivery's webhook again, with
/// the same headers and body, and answers 202.
pub(crate) async fn redeliver(
    State(app): State<Arc<App>>,
    Path((owner, repo, hook_id, delivery_id)): Path<(String, String, String, String)>,
) -> Result<Response, GithubError> {
    let repository_id = check_hook(&app, &owner, &repo, &hook_id)?;
    let delivery_id = parse_number(&delivery_id)?;
    let mut shared = app.lock();
    let guid = shared
        .ops
        .deliveries
        .iter()
        .find(|d| d.id == delivery_id)
        .map(|d| d.guid.clone())
        .filter(|guid| delivery_repo(&shared.ops, guid) == Some(repository_id))
        .ok_or_else(GithubError::not_found)?;
    let webhook = shared
        .ops
        .webhooks
        .get(&guid)
        .cloned()
        .ok_or_else(GithubError::not_found)?;
    shared.emit(webhook);
    Ok(json_response(StatusCode::ACCEPTED, &json!({})))
}
