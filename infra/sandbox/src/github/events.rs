//! GitHub webhook deliveries for `issues` and `issue_comment` events.

use serde_json::{Map, Value};

use super::RepoRef;
use super::render;
use crate::app::{App, Shared};
use crate::config::GithubUser;
use crate::state::GithubComment;
use crate::webhooks::{RecordedWebhook, Tracker, hmac_sha256_hex};

/// Value of `X-GitHub-Hook-ID`: the sandbox behaves as one repository hook per repository.
const HOOK_ID: &str = "100000001";

/// Payload fields an event carries besides `action`, `issue`, `repository` and `sender`.
pub(crate) enum Detail {
    None,
    /// `changes`, such as `{"title": {"from": "old"}}`.
    Changes(Value),
    /// `label`: the label added or removed.
    Label(Value),
    /// `comment`, and for "edited" its `changes`.
    Comment {
        comment: GithubComment,
        changes: Option<Value>,
    },
}

/// Records an `issues` event (`detail` is `None`, `Changes` or `Label`) or an `issue_comment`
/// event (`detail` is `Comment`) for the issue `number`, as sent after a write by `sender`.
/// The payload shows the issue as stored now.
pub(crate) fn emit(
    app: &App,
    shared: &mut Shared,
    repo: &RepoRef,
    number: u64,
    sender: &GithubUser,
    action: &str,
    detail: Detail,
) {
    let config = &app.config.github;
    let urls = &app.urls;
    let issue = shared
        .store
        .github
        .issues
        .iter()
        .find(|issue| issue.repo == repo.full_name && issue.number == number)
        .map(|issue| render::issue(config, urls, &shared.store.github, issue))
        .unwrap_or(Value::Null);

    let mut payload = Map::new();
    payload.insert("action".to_owned(), Value::String(action.to_owned()));
    payload.insert("issue".to_owned(), issue);
    let event = match detail {
        Detail::None => "issues",
        Detail::Changes(changes) => {
            payload.insert("changes".to_owned(), changes);
            "issues"
        }
        Detail::Label(label) => {
            payload.insert("label".to_owned(), label);
            "issues"
        }
        Detail::Comment { comment, changes } => {
            if let Some(changes) = changes {
                payload.insert("changes".to_owned(), changes);
            }
            payload.insert(
                "comment".to_owned(),
                render::comment(config, urls, &comment),
            );
            "issue_comment"
        }
    };
    payload.insert("repository".to_owned(), render::repository(urls, repo));
    payload.insert("sender".to_owned(), render::user(urls, sender));

    let body = Value::Object(payload).to_string().into_bytes();
    let webhook = signed_webhook(&config.webhook_secret, event, repo, body);
    shared.emit(webhook);
}

/// Wraps `body` with the headers GitHub sends on a delivery.
fn signed_webhook(secret: &str, event: &str, repo: &RepoRef, body: Vec<u8>) -> RecordedWebhook {
    let mut headers = vec![
        ("X-GitHub-Event".to_owned(), event.to_owned()),
        (
            "X-GitHub-Delivery".to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ),
        ("X-GitHub-Hook-ID".to_owned(), HOOK_ID.to_owned()),
        (
            "X-GitHub-Hook-Installation-Target-Type".to_owned(),
            "repository".to_owned(),
        ),
        (
            "X-GitHub-Hook-Installation-Target-ID".to_owned(),
            repo.id.to_string(),
        ),
        (
            "User-Agent".to_owned(),
            "GitHub-Hookshot/sandbox".to_owned(),
        ),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    if !secret.is_empty() {
        headers.push((
            "X-Hub-Signature-256".to_owned(),
            format!("sha256={}", hmac_sha256_hex(secret, &body)),
        ));
    }
    RecordedWebhook {
        tracker: Tracker::Github.as_str().to_owned(),
        headers,
        body,
    }
}
