//! Webhook deliveries of the fake Zendesk account: ticket events or trigger-template bodies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{ZendeskComment, ZendeskTicket, ZendeskUser};
use crate::app::{App, Shared};
use crate::webhooks::{RecordedWebhook, Tracker};

/// The id of the one webhook that the sandbox account delivers to.
const WEBHOOK_ID: &str = "01JSANDBOX0000000000000000";

/// A change that one ticket write made.
pub(crate) enum TicketChange {
    Created,
    Subject {
        previous: String,
    },
    Status {
        previous: String,
    },
    Tags {
        added: Vec<String>,
        removed: Vec<String>,
    },
    Group {
        previous: Option<u64>,
    },
    Comment(ZendeskComment),
}

/// Records the webhooks of `changes` to the ticket at `index`, written by `actor`.
pub(crate) fn emit(
    app: &App,
    shared: &mut Shared,
    index: usize,
    actor: &ZendeskUser,
    changes: Vec<TicketChange>,
) {
    let config = &app.config.zendesk;
    let ticket = shared.zendesk.state.tickets[index].clone();
    let bodies: Vec<Value> = if config.trigger_webhooks {
        trigger_bodies(app, &ticket, actor, &changes)
    } else {
        changes
            .iter()
            .map(|change| event_body(config.account_id, &ticket, actor, change))
            .collect()
    };
    for body in bodies {
        let invocation = shared.zendesk.next_id().to_string();
        let webhook = signed(app, &body, &invocation);
        shared.emit(webhook);
    }
}

fn detail(ticket: &ZendeskTicket, actor: &ZendeskUser) -> Value {
    json!({
        "actor_id": actor.id.to_string(),
        "assignee_id": null,
        "brand_id": "360000000001",
        "created_at": ticket.created_at,
        "description": ticket.description,
        "external_id": null,
        "form_id": "360000000002",
        "group_id": ticket.group_id.map(|id| id.to_string()),
        "id": ticket.id.to_string(),
        "is_public": true,
        "organization_id": null,
        "priority": "NORMAL",
        "requester_id": ticket.requester_id.to_string(),
        "status": ticket.status.to_ascii_uppercase(),
        "subject": ticket.subject,
        "submitter_id": ticket.submitter_id.to_string(),
        "tags": ticket.tags,
        "type": "TASK",
        "updated_at": ticket.updated_at,
        "via": {"channel": "web_service"},
    })
}

fn event_body(
    account: u64,
    ticket: &ZendeskTicket,
    actor: &ZendeskUser,
    change: &TicketChange,
) -> Value {
    let (kind, event) = match change {
        TicketChange::Created => ("ticket.created", json!({})),
        TicketChange::Subject { previous } => (
            "ticket.subject_changed",
            json!({"current": ticket.subject, "previous": previous}),
        ),
        TicketChange::Status { previous } => (
            "ticket.status_changed",
            json!({"current": ticket.status.to_ascii_uppercase(), "previous": previous.to_ascii_uppercase()}),
        ),
        TicketChange::Tags { added, removed } => (
            "ticket.tags_changed",
            json!({"tags_added": added, "tags_removed": removed}),
        ),
        TicketChange::Group { previous } => (
            "ticket.group_assignment_changed",
            json!({"current": ticket.group_id.map(|id| id.to_string()),
                   "previous": previous.map(|id| id.to_string())}),
        ),
        TicketChange::Comment(comment) => (
            "ticket.comment_added",
            json!({"comment": {
                "author": {"id": comment.author_id.to_string(), "is_staff": true, "name": actor.name},
                "body": comment.body,
                "html_body": format!("<div class=\"zd-comment\" dir=\"auto\"><p>{}</p></div>", comment.body),
                "id": comment.id.to_string(),
                "is_public": comment.public,
            }}),
        ),
    };
    json!({
        "account_id": account,
        "detail": detail(ticket, actor),
        "event": event,
        "id": uuid::Uuid::new_v4().to_string(),
        "subject": format!("zen:ticket:{}", ticket.id),
        "time": ticket.updated_at,
        "type": format!("zen:event-type:{kind}"),
        "zendesk_event_version": "2022-11-06",
    })
}

/// Renders proxysync's trigger template as Zendesk fills its placeholders: one body for the
/// ticket change, and one more for a comment.
fn trigger_bodies(
    app: &App,
    ticket: &ZendeskTicket,
    actor: &ZendeskUser,
    changes: &[TicketChange],
) -> Vec<Value> {
    let mut status = ticket.status.clone();
    if let Some(first) = status.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let ticket_json = json!({
        "id": ticket.id.to_string(),
        "subject": ticket.subject,
        "description": ticket.description,
        "status": status,
        "tags": ticket.tags.join(" "),
        "group_id": ticket.group_id.map(|id| id.to_string()).unwrap_or_default(),
        "updated_at": ticket.updated_at,
        "url": format!("{}/agent/tickets/{}", app.urls.zendesk, ticket.id),
    });
    let user = json!({"id": actor.id.to_string(), "email": actor.email, "name": actor.name});
    let mut bodies = Vec::new();
    let created = changes.iter().any(|c| matches!(c, TicketChange::Created));
    let fields = changes
        .iter()
        .any(|c| !matches!(c, TicketChange::Created | TicketChange::Comment(_)));
    if created || fields {
        let event = if created {
            "ticket.created"
        } else {
            "ticket.updated"
        };
        bodies.push(json!({"proxysync": "zendesk-trigger", "event": event,
            "ticket": ticket_json, "current_user": user}));
    }
    for change in changes {
        if let TicketChange::Comment(comment) = change {
            bodies.push(
                json!({"proxysync": "zendesk-trigger", "event": "ticket.comment_added",
                "ticket": ticket_json, "current_user": user,
                "comment": {
                    "id": comment.id.to_string(),
                    "body": comment.body,
                    "is_public": comment.public.to_string(),
                    "author_id": comment.author_id.to_string(),
                    "author_name": actor.name,
                }}),
            );
        }
    }
    bodies
}

fn signed(app: &App, body: &Value, invocation: &str) -> RecordedWebhook {
    let body = body.to_string().into_bytes();
    let timestamp = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds are in range")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time formats as RFC 3339");
    let mut mac = Hmac::<Sha256>::new_from_slice(app.config.zendesk.webhook_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(&body);
    let signature = BASE64.encode(mac.finalize().into_bytes());
    let headers = vec![
        (
            "Content-Type".to_owned(),
            "application/json; charset=utf-8".to_owned(),
        ),
        (
            "X-Zendesk-Account-Id".to_owned(),
            app.config.zendesk.account_id.to_string(),
        ),
        ("X-Zendesk-Webhook-Id".to_owned(), WEBHOOK_ID.to_owned()),
        (
            "X-Zendesk-Webhook-Invocation-Id".to_owned(),
            invocation.to_owned(),
        ),
        ("X-Zendesk-Webhook-Signature".to_owned(), signature),
        (
            "X-Zendesk-Webhook-Signature-Timestamp".to_owned(),
            timestamp,
        ),
    ];
    RecordedWebhook {
        tracker: Tracker::Zendesk.as_str().to_owned(),
        headers,
        body,
    }
}
