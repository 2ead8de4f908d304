//! Webhook deliveries of the fake Jira Data Center server.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{JiraDcComment, JiraDcUser, render};
use crate::app::{App, Shared};
use crate::clock::unix_millis;
use crate::webhooks::{RecordedWebhook, Tracker, hmac_sha256_hex};

/// One `changelog.items` entry. Data Center items have no `fieldId`.
pub(crate) struct ChangeItem {
    pub(crate) field: &'static str,
    pub(crate) from_string: Option<String>,
    pub(crate) to_string: Option<String>,
}

/// Records `jira:issue_created` or `jira:issue_updated` for the issue at `index`.
pub(crate) fn emit_issue_event(
    app: &App,
    shared: &mut Shared,
    index: usize,
    user: &JiraDcUser,
    webhook_event: &str,
    items: Vec<ChangeItem>,
    time: OffsetDateTime,
) {
    let changelog_id = shared.jira_dc.next_id().to_string();
    let issue = &shared.jira_dc.state.issues[index];
    let type_name = webhook_event.trim_start_matches("jira:");
    let items: Vec<Value> = items
        .iter()
        .map(|item| {
            json!({
                "field": item.field,
                "fieldtype": "jira",
                "from": null,
                "fromString": item.from_string,
                "to": null,
                "toString": item.to_string,
            })
        })
        .collect();
    let payload = json!({
        "timestamp": unix_millis(time),
        "webhookEvent": webhook_event,
        "issue_event_type_name": type_name,
        "user": render::user(&app.urls, user),
        "issue": render::issue(&app.config.jira_dc, &app.urls, issue),
        "changelog": {"id": changelog_id, "items": items},
    });
    let webhook = signed(&app.config.jira_dc.webhook_secret, &payload);
    shared.emit(webhook);
}

/// Records the two deliveries of a comment change: `jira:issue_updated` with the issue and the
/// comment, then the `comment_*` event, which on Data Center carries no issue.
///
/// `kind` is "created", "updated" or "deleted".
pub(crate) fn emit_comment_events(
    app: &App,
    shared: &mut Shared,
    index: usize,
    user: &JiraDcUser,
    comment: &JiraDcComment,
    kind: &str,
    time: OffsetDateTime,
) {
    let config = &app.config.jira_dc;
    let issue = &shared.jira_dc.state.issues[index];
    let type_name = match kind {
        "created" => "issue_commented",
        "updated" => "issue_comment_edited",
        _ => "issue_comment_deleted",
    };
    let rendered = render::comment(config, &app.urls, comment);
    let update = json!({
        "timestamp": unix_millis(time),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": type_name,
        "user": render::user(&app.urls, user),
        "issue": render::issue(config, &app.urls, issue),
        "comment": rendered,
    });
    let comment_event = json!({
        "timestamp": unix_millis(time),
        "webhookEvent": format!("comment_{kind}"),
        "comment": rendered,
    });
    let first = signed(&config.webhook_secret, &update);
    let second = signed(&config.webhook_secret, &comment_event);
    shared.emit(first);
    shared.emit(second);
}

fn signed(secret: &str, payload: &Value) -> RecordedWebhook {
    let body = payload.to_string().into_bytes();
    let mut headers = vec![
        (
            "Content-Type".to_owned(),
            "application/json; charset=UTF-8".to_owned(),
        ),
        ("User-Agent".to_owned(), "Jira Webhook Client".to_owned()),
    ];
    if !secret.is_empty() {
        headers.push((
            "X-Hub-Signature".to_owned(),
            format!("sha256={}", hmac_sha256_hex(secret, &body)),
        ));
    }
    RecordedWebhook {
        tracker: Tracker::JiraDc.as_str().to_owned(),
        headers,
        body,
    }
}
