//! Jira webhook deliveries: `jira:issue_created`, `jira:issue_updated` and `comment_*` events.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::render::{self, Representation};
use crate::app::{App, Shared};
use crate::clock::unix_millis;
use crate::config::JiraUser;
use crate::state::JiraComment;
use crate::webhooks::{RecordedWebhook, Tracker, hmac_sha256_hex};

/// One entry of a webhook `changelog.items`. `from`/`to` hold ids (status ids, for example)
/// and `from_string`/`to_string` the readable values.
pub(crate) struct ChangeItem {
    pub(crate) field: &'static str,
    pub(crate) field_id: &'static str,
    pub(crate) from: Option<String>,
    pub(crate) from_string: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) to_string: Option<String>,
}

impl ChangeItem {
    /// Builds the change of a field that has no separate id, such as the summary or the
    /// labels.
    pub(crate) fn text(
        field: &'static str,
        from_string: Option<String>,
        to_string: Option<String>,
    ) -> Self {
        ChangeItem {
            field,
            field_id: field,
            from: None,
            from_string,
            to: None,
            to_string,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "field": self.field,
            "fieldtype": "jira",
            "fieldId": self.field_id,
            "from": self.from,
            "fromString": self.from_string,
            "to": self.to,
            "toString": self.to_string,
        })
    }
}

/// A `jira:issue_created` or `jira:issue_updated` event to record.
pub(crate) struct IssueEvent {
    /// "jira:issue_created" or "jira:issue_updated".
    pub(crate) webhook_event: &'static str,
    /// The `issue_event_type_name`, such as "issue_updated" or "issue_generic".
    pub(crate) type_name: &'static str,
    pub(crate) items: Vec<ChangeItem>,
    /// Time of the write, the source of the `timestamp` field.
    pub(crate) time: OffsetDateTime,
}

/// Records `event` for the issue at `issue_index`, written by `user`. The payload shows the
/// issue as stored now.
pub(crate) fn emit_issue_event(
    app: &App,
    shared: &mut Shared,
    issue_index: usize,
    user: &JiraUser,
    event: IssueEvent,
) {
    let changelog_id = shared.store.ids.next_jira_changelog();
    let issue = &shared.store.jira.issues[issue_index];
    let payload = json!({
        "timestamp": unix_millis(event.time),
        "webhookEvent": event.webhook_event,
        "issue_event_type_name": event.type_name,
        "user": render::user(&app.urls, user),
        "issue": render::issue(
            &app.config.jira,
            &app.urls,
            &shared.store.jira,
            issue,
            Representation::Webhook,
        ),
        "changelog": {
            "id": changelog_id,
            "items": event.items.iter().map(ChangeItem::to_json).collect::<Vec<_>>(),
        },
    });
    let webhook = signed_webhook(&app.config.jira.webhook_secret, &payload);
    shared.emit(webhook);
}

/// Records a `comment_created`, `comment_updated` or `comment_deleted` event. Like Jira, the
/// payload has no top-level `user`: the writer is `comment.updateAuthor`, and the issue is a
/// short form with the main fields only.
pub(crate) fn emit_comment_event(
    app: &App,
    shared: &mut Shared,
    issue_index: usize,
    comment: &JiraComment,
    webhook_event: &str,
    time: OffsetDateTime,
) {
    let config = &app.config.jira;
    let issue = &shared.store.jira.issues[issue_index];
    let full = render::issue(
        config,
        &app.urls,
        &shared.store.jira,
        issue,
        Representation::Webhook,
    );
    let mut short_fields = Map::new();
    for name in [
        "summary",
        "issuetype",
        "project",
        "assignee",
        "priority",
        "status",
    ] {
        short_fields.insert(name.to_owned(), full["fields"][name].clone());
    }
    let payload = json!({
        "timestamp": unix_millis(time),
        "webhookEvent": webhook_event,
        "comment": render::comment(config, &app.urls, comment, Representation::Webhook),
        "issue": {
            "id": full["id"],
            "self": full["self"],
            "key": full["key"],
            "fields": short_fields,
        },
    });
    let webhook = signed_webhook(&config.webhook_secret, &payload);
    shared.emit(webhook);
}

/// Wraps `payload` with the headers of a Jira admin webhook delivery.
fn signed_webhook(secret: &str, payload: &Value) -> RecordedWebhook {
    let body = payload.to_string().into_bytes();
    let mut headers = vec![
        (
            "Content-Type".to_owned(),
            "application/json; charset=UTF-8".to_owned(),
        ),
        (
            "X-Atlassian-Webhook-Identifier".to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ),
        (
            "User-Agent".to_owned(),
            "Atlassian Webhook HTTP Client".to_owned(),
        ),
    ];
    if !secret.is_empty() {
        headers.push((
            "X-Hub-Signature".to_owned(),
            format!("sha256={}", hmac_sha256_hex(secret, &body)),
        ));
    }
    RecordedWebhook {
        tracker: Tracker::Jira.as_str().to_owned(),
        headers,
        body,
    }
}
