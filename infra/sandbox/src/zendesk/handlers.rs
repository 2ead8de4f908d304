//! Request handlers of the fake Zendesk Support API.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::events::{self, TicketChange};
use super::{ZendeskCaller, ZendeskComment, ZendeskError, ZendeskTicket, json_response};
use crate::app::{App, Shared};
use crate::clock::github_timestamp;

const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];

pub(crate) async fn not_found() -> Response {
    ZendeskError::new(
        StatusCode::NOT_FOUND,
        "InvalidEndpoint",
        "No resource matches the request path in the sandbox.",
    )
    .into_response()
}

/// `GET /api/v2/users/me`.
pub(crate) async fn me(
    State(app): State<Arc<App>>,
    Extension(ZendeskCaller(user)): Extension<ZendeskCaller>,
) -> Response {
    let body = json!({"user": {
        "id": user.id,
        "url": format!("{}/api/v2/users/{}.json", app.urls.zendesk, user.id),
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "active": true,
        "verified": true,
        "suspended": false,
        "time_zone": "UTC",
    }});
    json_response(StatusCode::OK, &body)
}

fn ticket_json(app: &App, ticket: &ZendeskTicket) -> Value {
    json!({
        "id": ticket.id,
        "url": format!("{}/api/v2/tickets/{}.json", app.urls.zendesk, ticket.id),
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "tags": ticket.tags,
        "group_id": ticket.group_id,
        "requester_id": ticket.requester_id,
        "submitter_id": ticket.submitter_id,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "via": {"channel": "api"},
    })
}

fn comment_json(comment: &ZendeskComment) -> Value {
    json!({
        "id": comment.id,
        "type": "Comment",
        "author_id": comment.author_id,
        "body": comment.body,
        "plain_body": comment.body,
        "public": comment.public,
        "created_at": comment.created_at,
        "via": {"channel": "api"},
    })
}

fn ticket_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, ZendeskError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ZendeskError::invalid(format!("invalid JSON: {error}")))?;
    value
        .get("ticket")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| ZendeskError::invalid("the body needs a ticket object"))
}

fn tags_of(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(|tag| tag.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

fn status_of(value: Option<&Value>) -> Result<Option<String>, ZendeskError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(status)) if STATUSES.contains(&status.as_str()) => {
            Ok(Some(status.clone()))
        }
        Some(other) => Err(ZendeskError::invalid(format!(
            "Status: {other} is not a valid status"
        ))),
    }
}

/// Reads `{"comment": {"body", "public"}}`, public by default as in Zendesk.
fn comment_of(
    ticket: &serde_json::Map<String, Value>,
) -> Result<Option<(String, bool)>, ZendeskError> {
    let Some(comment) = ticket.get("comment") else {
        return Ok(None);
    };
    let body = comment
        .get("body")
        .and_then(Value::as_str)
        .filter(|body| !body.trim().is_empty())
        .ok_or_else(|| ZendeskError::invalid("Comment: body cannot be blank"))?;
    let public = comment
        .get("public")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(Some((body.to_owned(), public)))
}

fn add_comment(
    shared: &mut Shared,
    ticket_id: u64,
    body: String,
    public: bool,
    author_id: u64,
    now: &str,
) -> ZendeskComment {
    let comment = ZendeskComment {
        id: shared.zendesk.next_id(),
        ticket_id,
        body,
        public,
        author_id,
        created_at: now.to_owned(),
    };
    shared.zendesk.state.comments.push(comment.clone());
    comment
}

fn audit(
    shared: &mut Shared,
    ticket_id: u64,
    author_id: u64,
    comment: Option<&ZendeskComment>,
) -> Value {
    let events: Vec<Value> = comment
        .map(|c| {
            json!({"id": c.id, "type": "Comment", "author_id": c.author_id,
                   "body": c.body, "public": c.public})
        })
        .into_iter()
        .collect();
    json!({"id": shared.zendesk.next_id(), "ticket_id": ticket_id, "author_id": author_id,
           "via": {"channel": "api"}, "events": events})
}

/// `POST /api/v2/tickets`: responds 201 `{ticket, audit}` and records `ticket.created`.
pub(crate) async fn create_ticket(
    State(app): State<Arc<App>>,
    Extension(ZendeskCaller(caller)): Extension<ZendeskCaller>,
    body: Bytes,
) -> Result<Response, ZendeskError> {
    let request = ticket_object(&body)?;
    let (description, public) = comment_of(&request)?
        .ok_or_else(|| ZendeskError::invalid("Description: cannot be blank"))?;
    let subject = request
        .get("subject")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| description.lines().next().unwrap_or_default().to_owned());
    let status = status_of(request.get("status"))?.unwrap_or_else(|| "open".to_owned());
    let group_id = group_of(&app, request.get("group_id"))?.flatten();

    let mut shared = app.lock();
    let time = shared.zendesk.clock.tick();
    let now = github_timestamp(time);
    let id = shared.zendesk.state.tickets.len() as u64 + 5_000;
    shared.zendesk.state.tickets.push(ZendeskTicket {
        id,
        subject,
        description: description.clone(),
        status,
        tags: tags_of(request.get("tags")),
        group_id,
        requester_id: caller.id,
        submitter_id: caller.id,
        created_at: now.clone(),
        updated_at: now.clone(),
    });
    let comment = add_comment(&mut shared, id, description, public, caller.id, &now);
    let index = shared.zendesk.state.tickets.len() - 1;
    events::emit(
        &app,
        &mut shared,
        index,
        &caller,
        vec![TicketChange::Created],
    );
    let audit = audit(&mut shared, id, caller.id, Some(&comment));
    let ticket = ticket_json(&app, &shared.zendesk.state.tickets[index]);
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"ticket": ticket, "audit": audit}),
    ))
}

/// Reads `group_id`: `None` when absent, `Some(None)` for null (no group), or a configured group.
fn group_of(app: &App, value: Option<&Value>) -> Result<Option<Option<u64>>, ZendeskError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => {
            let group = value
                .as_u64()
                .filter(|group| app.config.zendesk.groups.contains(group))
                .ok_or_else(|| ZendeskError::invalid(format!("Group: {value} is invalid")))?;
            Ok(Some(Some(group)))
        }
    }
}

fn ticket_index(shared: &Shared, id: &str) -> Result<usize, ZendeskError> {
    let id: u64 = id
        .trim_end_matches(".json")
        .parse()
        .map_err(|_| ZendeskError::not_found())?;
    shared
        .zendesk
        .state
        .tickets
        .iter()
        .position(|ticket| ticket.id == id)
        .ok_or_else(ZendeskError::not_found)
}

/// `GET /api/v2/tickets/{id}`.
pub(crate) async fn get_ticket(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ZendeskError> {
    let shared = app.lock();
    let index = ticket_index(&shared, &id)?;
    let ticket = ticket_json(&app, &shared.zendesk.state.tickets[index]);
    Ok(json_response(StatusCode::OK, &json!({"ticket": ticket})))
}

/// `PUT /api/v2/tickets/{id}` with `subject`, `status`, `group_id`, `tags`, `additional_tags`,
/// `remove_tags` and `comment`: responds 200 `{ticket, audit}` and records one event per change.
pub(crate) async fn update_ticket(
    State(app): State<Arc<App>>,
    Extension(ZendeskCaller(caller)): Extension<ZendeskCaller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ZendeskError> {
    let request = ticket_object(&body)?;
    let status = status_of(request.get("status"))?;
    let group = group_of(&app, request.get("group_id"))?;
    let comment = comment_of(&request)?;
    let mut shared = app.lock();
    let index = ticket_index(&shared, &id)?;
    let before = shared.zendesk.state.tickets[index].clone();
    if before.status == "closed" {
        return Err(ZendeskError::invalid(
            "Status: closed prevents ticket update",
        ));
    }
    let mut after = before.clone();
    if let Some(subject) = request.get("subject").and_then(Value::as_str) {
        after.subject = subject.to_owned();
    }
    if let Some(status) = status {
        after.status = status;
    }
    if let Some(group) = group {
        after.group_id = group;
    }
    if request.contains_key("tags") {
        after.tags = tags_of(request.get("tags"));
    }
    for tag in tags_of(request.get("additional_tags")) {
        if !after.tags.contains(&tag) {
            after.tags.push(tag);
        }
    }
    let removed = tags_of(request.get("remove_tags"));
    after.tags.retain(|tag| !removed.contains(tag));

    let mut changes = Vec::new();
    if after.subject != before.subject {
        changes.push(TicketChange::Subject {
            previous: before.subject.clone(),
        });
    }
    if after.status != before.status {
        changes.push(TicketChange::Status {
            previous: before.status.clone(),
        });
    }
    if after.group_id != before.group_id {
        changes.push(TicketChange::Group {
            previous: before.group_id,
        });
    }
    if after.tags != before.tags {
        changes.push(TicketChange::Tags {
            added: after
                .tags
                .iter()
                .filter(|t| !before.tags.contains(t))
                .cloned()
                .collect(),
            removed: before
                .tags
                .iter()
                .filter(|t| !after.tags.contains(t))
                .cloned()
                .collect(),
        });
    }
    let time = shared.zendesk.clock.tick();
    let now = github_timestamp(time);
    let mut added = None;
    if let Some((text, public)) = comment {
        let comment = add_comment(&mut shared, before.id, text, public, caller.id, &now);
        changes.push(TicketChange::Comment(comment.clone()));
        added = Some(comment);
    }
    if !changes.is_empty() {
        after.updated_at = now;
        shared.zendesk.state.tickets[index] = after;
        events::emit(&app, &mut shared, index, &caller, changes);
    }
    let audit = audit(&mut shared, before.id, caller.id, added.as_ref());
    let ticket = ticket_json(&app, &shared.zendesk.state.tickets[index]);
    Ok(json_response(
        StatusCode::OK,
        &json!({"ticket": ticket, "audit": audit}),
    ))
}

/// `GET /api/v2/tickets/{id}/comments`, oldest first.
pub(crate) async fn comments(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ZendeskError> {
    let shared = app.lock();
    let index = ticket_index(&shared, &id)?;
    let ticket_id = shared.zendesk.state.tickets[index].id;
    let list: Vec<Value> = shared
        .zendesk
        .state
        .comments
        .iter()
        .filter(|comment| comment.ticket_id == ticket_id)
        .map(comment_json)
        .collect();
    let count = list.len();
    Ok(json_response(
        StatusCode::OK,
        &json!({"comments": list, "next_page": null, "previous_page": null, "count": count}),
    ))
}
