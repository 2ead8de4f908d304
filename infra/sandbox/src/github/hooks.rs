//! The repository hook and its deliveries: `GET /repos/{owner}/{repo}/hooks/{hook_id}`,
//! `GET .../deliveries` and `POST .../deliveries/{delivery_id}/attempts`.
//!
//! Each repository has one hook, whose id is in every delivery's `X-GitHub-Hook-ID`. Each
//! recorded webhook is one delivery attempt; `Sandbox::set_github_delivery_status` records the
//! receiver's answer, and a redelivery records the same webhook again. Like GitHub, the list
//! shows only attempts that have an answer, so a webhook still waiting in the outbox is absent.
//! The list is paged with an opaque `cursor`, which the `Link` header's `rel="next"` URL
//! carries under `/repositories/{repository_id}/...`, as on GitHub.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::error::{GithubError, json_response};
use super::{find_repo, find_repo_by_id, list_response, parse_number, percent_encode};
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

/// `GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Path((owner, repo, hook_id)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GithubError> {
    let repository_id = check_hook(&app, &owner, &repo, &hook_id)?;
    list_deliveries(&app, repository_id, &params)
}

/// `GET /repositories/{repository_id}/hooks/{hook_id}/deliveries`, the form of the `Link`
/// header's URLs.
pub(crate) async fn list_by_repository_id(
    State(app): State<Arc<App>>,
    Path((repository_id, hook_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GithubError> {
    let repo = find_repo_by_id(&app.config.github, parse_number(&repository_id)?)?;
    let repository_id = check_hook(&app, &repo.owner, &repo.name, &hook_id)?;
    list_deliveries(&app, repository_id, &params)
}

/// Lists the repository's attempts that have a status, newest first, at most `per_page` (default
/// 30, at most 100), from the attempt that `cursor` names. The `Link` header names the next
/// page, whose cursor is the id of its first attempt, encoded. A cursor that the sandbox did
/// not issue gets 400.
fn list_deliveries(
    app: &App,
    repository_id: u64,
    params: &HashMap<String, String>,
) -> Result<Response, GithubError> {
    let per_page = params
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let start = match params.get("cursor") {
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| GithubError::new(StatusCode::BAD_REQUEST, "Invalid cursor"))?,
        ),
        None => None,
    };
    let shared = app.lock();
    let mut listed = shared
        .ops
        .deliveries
        .iter()
        .rev()
        .filter(|d| d.status_code != 0)
        .filter(|d| delivery_repo(&shared.ops, &d.guid) == Some(repository_id))
        .filter(|d| start.is_none_or(|start| d.id <= start));
    let items: Vec<Value> = listed
        .by_ref()
        .take(per_page)
        .map(|d| delivery_json(d, repository_id))
        .collect();
    let link = listed.next().map(|next| {
        format!(
            "<{}/repositories/{repository_id}/hooks/{GITHUB_HOOK_ID}/deliveries?per_page={per_page}&cursor={}>; rel=\"next\"",
            app.urls.github_api,
            percent_encode(&encode_cursor(next.id))
        )
    });
    Ok(list_response(items, link))
}

/// Encodes a delivery id as an opaque cursor, such as `v1_AAAAAAvrwp8=`.
fn encode_cursor(delivery_id: u64) -> String {
    format!("v1_{}", BASE64.encode(delivery_id.to_be_bytes()))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = BASE64.decode(cursor.strip_prefix("v1_")?).ok()?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let cursor = encode_cursor(200_000_123);
        assert!(cursor.starts_with("v1_"), "{cursor}");
        assert_eq!(decode_cursor(&cursor), Some(200_000_123));
        assert_eq!(decode_cursor("v1_not-base64"), None);
        assert_eq!(decode_cursor("200000123"), None);
    }
}
