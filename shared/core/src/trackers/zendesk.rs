//! Zendesk: webhooks in (ticket event subscriptions and trigger webhooks), the Support API out.
//!
//! A connection's project on Zendesk is a group id: tickets of that group sync, and tickets
//! proxysync creates go into it. Ticket keys are ticket ids. A ticket reference does not name
//! its group, and an agent can move a ticket after it was linked. So the target reads the
//! ticket's group before every write to a linked ticket, and skips the write
//! (`outside_project`) when the group is not the connection's.
//!
//! Two kinds of webhook arrive on the same route. Event subscriptions send Zendesk's fixed
//! envelope (`type: zen:event-type:ticket.*`, `detail`, `event`), with the actor in
//! `detail.actor_id` and a comment's author in `event.comment.author.id`. Trigger webhooks send
//! the body of the template in `infra/zendesk/`, marked by `"proxysync": "zendesk-trigger"`,
//! with the actor in `current_user`. Both are signed with `X-Zendesk-Webhook-Signature`:
//! base64 HMAC-SHA256 over the `X-Zendesk-Webhook-Signature-Timestamp` value followed by the
//! raw body. A timestamp older than the instance option `signature_max_age_secs` (300 by
//! default) is rejected, so a captured request cannot be replayed.
//!
//! Zendesk's description is the ticket's first comment and cannot be edited, and comments
//! cannot be edited or deleted through the API. A changed description arrives on Zendesk as
//! a private note, and comment edits and deletions from the other side are not applied.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    Author, Change, ChangeEvent, CommentContent, Endpoint, Field, Instance, IssueContent, IssueRef,
    IssueState, ProxyIdentity, TrackerKind,
};
use crate::options::{InstanceOption, OptionKind};
use crate::time_util::{now_ms, parse_rfc3339_ms};
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, PreflightCheck, Source, Target,
    TrackerModule,
};

const SIGNATURE_HEADER: &str = "x-zendesk-webhook-signature";
const TIMESTAMP_HEADER: &str = "x-zendesk-webhook-signature-timestamp";
/// The default largest age of a signature timestamp, in seconds.
pub const DEFAULT_MAX_AGE_SECS: i64 = 300;
/// The instance option that overrides [`DEFAULT_MAX_AGE_SECS`].
pub const MAX_AGE_OPTION: &str = "signature_max_age_secs";
/// The marker field of the trigger webhook template.
pub const TRIGGER_MARKER: &str = "zendesk-trigger";
const EVENT_PREFIX: &str = "zen:event-type:";
const DEFAULT_CLOSED_STATUS: &str = "solved";
const DEFAULT_OPEN_STATUS: &str = "open";

/// The instance options Zendesk reads.
pub const INSTANCE_OPTIONS: &[InstanceOption] =
    &[InstanceOption::new(MAX_AGE_OPTION, OptionKind::WholeNumber)];

/// The Zendesk tracker module.
pub struct Zendesk;

impl TrackerModule for Zendesk {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"email": "<Zendesk email>", "api_token": "...", "webhook_secret": "..."}"#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        let email = credentials.email.clone().ok_or(
            "the secret has no \"email\" field: store the proxy user's Zendesk email there",
        )?;
        let token = credentials.token.clone().ok_or(
            "the secret has no \"api_token\" field: store a Zendesk API token of the proxy user there",
        )?;
        Ok(Auth::Basic {
            user: format!("{email}/token"),
            password: token,
        })
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }
}

/// Returns true when `signature` is the base64 HMAC-SHA256 of `timestamp` followed by `body`.
/// The comparison runs in constant time.
pub fn signature_matches(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = BASE64.decode(signature.trim()) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Computes the `X-Zendesk-Webhook-Signature` value of `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(body);
    BASE64.encode(mac.finalize().into_bytes())
}

fn verify_signed(
    request: &InboundRequest,
    secret: &SecretString,
    max_age_secs: i64,
) -> Result<(), Rejection> {
    let signature = request
        .header(SIGNATURE_HEADER)
        .ok_or(Rejection::MissingSignature("X-Zendesk-Webhook-Signature"))?;
    let timestamp = request
        .header(TIMESTAMP_HEADER)
        .ok_or(Rejection::MissingSignature(
            "X-Zendesk-Webhook-Signature-Timestamp",
        ))?;
    if !signature_matches(secret.expose_secret(), timestamp, &request.body, signature) {
        return Err(Rejection::BadSignature("X-Zendesk-Webhook-Signature"));
    }
    let signed_ms = parse_rfc3339_ms(timestamp.trim()).ok_or(Rejection::BadSignature(
        "X-Zendesk-Webhook-Signature-Timestamp",
    ))?;
    let age_secs = (now_ms() - signed_ms) / 1000;
    // A timestamp from the future is as suspect as an old one.
    if age_secs.abs() > max_age_secs {
        return Err(Rejection::StaleTimestamp {
            age_secs,
            max_secs: max_age_secs,
        });
    }
    Ok(())
}

fn max_age_secs(instance: &Instance) -> i64 {
    instance
        .options
        .get(MAX_AGE_OPTION)
        .and_then(Value::as_i64)
        .filter(|secs| *secs > 0)
        .unwrap_or(DEFAULT_MAX_AGE_SECS)
}

impl Source for Zendesk {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        verify_signed(request, secret, DEFAULT_MAX_AGE_SECS)
    }

    fn verify_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
        secret: &SecretString,
    ) -> Result<(), Rejection> {
        verify_signed(request, secret, max_age_secs(instance))
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        parse_webhook(instance, "", request)
    }

    fn parse_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
    ) -> Result<Parsed, Rejection> {
        parse_webhook(&instance.id, &instance.base_url, request)
    }
}

/// The `detail` of a ticket event; ids are strings and enums upper case.
#[derive(Deserialize)]
struct Detail {
    id: String,
    #[serde(default)]
    actor_id: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct CommentAuthor {
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct EventComment {
    id: String,
    #[serde(default)]
    body: String,
    author: CommentAuthor,
    #[serde(default)]
    is_public: Option<bool>,
}

#[derive(Deserialize, Default)]
struct EventBody {
    #[serde(default)]
    comment: Option<EventComment>,
    #[serde(default)]
    tags_added: Vec<String>,
    #[serde(default)]
    tags_removed: Vec<String>,
}

#[derive(Deserialize)]
struct TicketEvent {
    #[serde(default)]
    id: Option<String>,
    detail: Detail,
    #[serde(default)]
    event: EventBody,
    #[serde(default)]
    time: Option<String>,
}

/// The body of the trigger webhook template; every value is a rendered placeholder string.
#[derive(Deserialize)]
struct TriggerBody {
    event: String,
    ticket: TriggerTicket,
    #[serde(default)]
    comment: Option<TriggerComment>,
    current_user: TriggerUser,
}

#[derive(Deserialize)]
struct TriggerTicket {
    id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    updated_at: String,
}

#[derive(Deserialize)]
struct TriggerComment {
    id: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    is_public: String,
    author_id: String,
    #[serde(default)]
    author_name: String,
}

#[derive(Deserialize)]
struct TriggerUser {
    id: String,
    #[serde(default)]
    name: String,
}

fn parse_webhook(
    instance: &str,
    base_url: &str,
    request: &InboundRequest,
) -> Result<Parsed, Rejection> {
    let json: Value = serde_json::from_slice(&request.body)
        .map_err(|error| Rejection::not_payload(format!("body is not JSON: {error}")))?;
    let invocation = request
        .header("x-zendesk-webhook-invocation-id")
        .map(str::to_owned);
    if json.get("proxysync").and_then(Value::as_str) == Some(TRIGGER_MARKER) {
        let body: TriggerBody = serde_json::from_value(json)
            .map_err(|error| Rejection::not_payload(format!("trigger webhook body: {error}")))?;
        return parse_trigger(instance, base_url, invocation, body);
    }
    let Some(kind) = json.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err(Rejection::Malformed(format!(
            "body has neither a \"type\" (a ticket event) nor \"proxysync\": \"{TRIGGER_MARKER}\" \
             (a trigger built from the template in infra/zendesk)"
        )));
    };
    let mut parsed = Parsed {
        delivery_id: invocation,
        event_name: kind.clone(),
        ..Parsed::default()
    };
    let name = kind.strip_prefix(EVENT_PREFIX).unwrap_or(&kind).to_owned();
    let handled = [
        "ticket.created",
        "ticket.comment_added",
        "ticket.subject_changed",
        "ticket.status_changed",
        "ticket.tags_changed",
    ];
    if !handled.contains(&name.as_str()) {
        parsed.ignored = Some(format!("event type {kind} is not synced"));
        return Ok(parsed);
    }
    let event: TicketEvent = serde_json::from_value(json)
        .map_err(|error| Rejection::not_payload(format!("{kind} payload: {error}")))?;
    if parsed.delivery_id.is_none() {
        parsed.delivery_id = event.id.clone();
    }
    parsed
        .events
        .push(ticket_event(instance, base_url, &name, event)?);
    Ok(parsed)
}

fn ticket_event(
    instance: &str,
    base_url: &str,
    name: &str,
    event: TicketEvent,
) -> Result<ChangeEvent, Rejection> {
    let detail = event.detail;
    let actor = detail
        .actor_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Rejection::Malformed(format!("{name} payload has no detail.actor_id")))?;
    let mut author = Author {
        name: actor.clone(),
        id: actor,
    };
    let change = match name {
        "ticket.created" => Change::IssueCreated,
        "ticket.comment_added" => {
            let comment = event.event.comment.ok_or_else(|| {
                Rejection::Malformed("ticket.comment_added payload has no event.comment".to_owned())
            })?;
            author = Author {
                id: comment.author.id,
                name: comment.author.name,
            };
            Change::CommentCreated {
                comment: CommentContent {
                    id: comment.id,
                    body: comment_text(&comment.body, comment.is_public),
                    author: author.clone(),
                },
            }
        }
        "ticket.subject_changed" => updated(vec![Field::Title], Vec::new(), Vec::new()),
        "ticket.status_changed" => updated(vec![Field::State], Vec::new(), Vec::new()),
        _ => updated(
            vec![Field::Labels],
            event.event.tags_added,
            event.event.tags_removed,
        ),
    };
    let at_ms = detail
        .updated_at
        .as_deref()
        .or(event.time.as_deref())
        .and_then(parse_rfc3339_ms)
        .unwrap_or_else(now_ms);
    let content = IssueContent {
        title: detail.subject.unwrap_or_default(),
        body: detail.description.unwrap_or_default(),
        state: state_of(detail.status.as_deref().unwrap_or_default()),
        labels: detail.tags,
    };
    Ok(ChangeEvent {
        kind: format!("{EVENT_PREFIX}{name}"),
        tracker: TrackerKind::Zendesk,
        instance: instance.to_owned(),
        project: detail.group_id.unwrap_or_default(),
        issue: ticket_ref(base_url, &detail.id),
        content,
        author,
        at_ms,
        change,
    })
}

fn parse_trigger(
    instance: &str,
    base_url: &str,
    invocation: Option<String>,
    body: TriggerBody,
) -> Result<Parsed, Rejection> {
    let event_name = format!("trigger:{}", body.event);
    let mut parsed = Parsed {
        delivery_id: invocation,
        event_name: event_name.clone(),
        ..Parsed::default()
    };
    if body.current_user.id.trim().is_empty() {
        return Err(Rejection::Malformed(
            "trigger webhook body has an empty current_user.id: use the template in infra/zendesk"
                .to_owned(),
        ));
    }
    let mut author = Author {
        id: body.current_user.id.trim().to_owned(),
        name: body.current_user.name,
    };
    let change = match body.event.as_str() {
        "ticket.created" => Change::IssueCreated,
        "ticket.updated" => updated(vec![Field::Title, Field::State], Vec::new(), Vec::new()),
        "ticket.comment_added" => {
            let comment = body.comment.ok_or_else(|| {
                Rejection::Malformed("trigger ticket.comment_added body has no comment".to_owned())
            })?;
            author = Author {
                id: comment.author_id.trim().to_owned(),
                name: comment.author_name,
            };
            let public = match comment.is_public.trim() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
            Change::CommentCreated {
                comment: CommentContent {
                    id: comment.id.trim().to_owned(),
                    body: comment_text(&comment.body, public),
                    author: author.clone(),
                },
            }
        }
        other => {
            parsed.ignored = Some(format!(
                "trigger event {other} is not synced: use ticket.created, ticket.updated or \
                 ticket.comment_added"
            ));
            return Ok(parsed);
        }
    };
    let ticket = body.ticket;
    let at_ms = parse_rfc3339_ms(ticket.updated_at.trim()).unwrap_or_else(now_ms);
    parsed.events.push(ChangeEvent {
        kind: event_name,
        tracker: TrackerKind::Zendesk,
        instance: instance.to_owned(),
        project: ticket.group_id.trim().to_owned(),
        issue: ticket_ref(base_url, ticket.id.trim()),
        content: IssueContent {
            title: ticket.subject,
            body: ticket.description,
            state: state_of(&ticket.status),
            labels: ticket.tags.split_whitespace().map(str::to_owned).collect(),
        },
        author,
        at_ms,
        change,
    });
    Ok(parsed)
}

fn updated(fields: Vec<Field>, labels_added: Vec<String>, labels_removed: Vec<String>) -> Change {
    Change::IssueUpdated {
        fields,
        labels_added,
        labels_removed,
    }
}

/// Marks a private note, so the other side does not show it as a public reply.
fn comment_text(body: &str, public: Option<bool>) -> String {
    match public {
        Some(false) => format!("_(internal note)_\n\n{body}"),
        _ => body.to_owned(),
    }
}

/// Solved and closed tickets count as closed; new, open, pending and on-hold as open.
fn state_of(status: &str) -> IssueState {
    match status.to_ascii_lowercase().as_str() {
        "solved" | "closed" => IssueState::Closed,
        _ => IssueState::Open,
    }
}

fn ticket_ref(base_url: &str, id: &str) -> IssueRef {
    IssueRef {
        key: id.to_owned(),
        id: id.to_owned(),
        url: format!("{}/agent/tickets/{id}", base_url.trim_end_matches('/')),
    }
}

/// Zendesk tags cannot hold spaces, so spaces become underscores.
fn zendesk_tag(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join("_")
}

fn bad_response(method: &str, path: &str, message: &str) -> TargetError {
    TargetError::BadResponse {
        tracker: TrackerKind::Zendesk,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn ticket_path(issue: &IssueRef) -> String {
    format!("/api/v2/tickets/{}", urlencoding::encode(&issue.key))
}

fn status_for(project: &Endpoint, state: IssueState) -> String {
    match state {
        IssueState::Closed => project.closed_status.as_deref(),
        IssueState::Open => project.open_status.as_deref(),
    }
    .unwrap_or(match state {
        IssueState::Closed => DEFAULT_CLOSED_STATUS,
        IssueState::Open => DEFAULT_OPEN_STATUS,
    })
    .to_ascii_lowercase()
}

/// Returns the endpoint option `public_comments`: whether text written on this side is a public
/// reply. It is false by default, so proxysync writes private notes.
fn public_comments(project: &Endpoint) -> bool {
    project
        .options
        .get("public_comments")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Adds a comment through a ticket update and returns the id of the comment audit event.
async fn put_comment(
    api: &Api,
    issue: &IssueRef,
    body: &str,
    public: bool,
) -> Result<String, TargetError> {
    let path = ticket_path(issue);
    let answer = api
        .put(
            &path,
            &json!({"ticket": {"comment": {"body": body, "public": public}}}),
        )
        .await?;
    let events = answer
        .pointer("/audit/events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    events
        .iter()
        .find(|event| event.get("type").and_then(Value::as_str) == Some("Comment"))
        .and_then(|event| event.get("id"))
        .map(|id| match id {
            Value::String(id) => id.clone(),
            other => other.to_string(),
        })
        .ok_or_else(|| bad_response("PUT", &path, "the audit has no Comment event"))
}

#[async_trait]
impl Target for Zendesk {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let path = "/api/v2/users/me";
        let me = api.get(path).await?;
        let id = me
            .pointer("/user/id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_response("GET", path, "no numeric user.id"))?;
        let name = me
            .pointer("/user/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(ProxyIdentity {
            id: id.to_string(),
            name: name.to_owned(),
        })
    }

    async fn create_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
    ) -> Result<IssueRef, TargetError> {
        let path = "/api/v2/tickets";
        let description = if content.body.trim().is_empty() {
            content.title.clone()
        } else {
            content.body.clone()
        };
        let mut ticket = json!({
            "subject": content.title,
            "comment": {"body": description, "public": public_comments(project)},
            "tags": content.labels.iter().map(|l| zendesk_tag(l)).collect::<Vec<_>>(),
            "status": status_for(project, content.state),
        });
        if let Ok(group) = project.project.parse::<u64>() {
            ticket["group_id"] = json!(group);
        }
        let created = api.post(path, &json!({"ticket": ticket})).await?;
        let id = created
            .pointer("/ticket/id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_response("POST", path, "created ticket has no id"))?;
        Ok(ticket_ref(api.base_url(), &id.to_string()))
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        let mut ticket = serde_json::Map::new();
        if let Some(title) = &update.title {
            ticket.insert("subject".to_owned(), json!(title));
        }
        if let Some(state) = update.state {
            ticket.insert("status".to_owned(), json!(status_for(project, state)));
        }
        if !update.labels_add.is_empty() {
            let tags: Vec<String> = update.labels_add.iter().map(|l| zendesk_tag(l)).collect();
            ticket.insert("additional_tags".to_owned(), json!(tags));
        }
        if !update.labels_remove.is_empty() {
            let tags: Vec<String> = update
                .labels_remove
                .iter()
                .map(|l| zendesk_tag(l))
                .collect();
            ticket.insert("remove_tags".to_owned(), json!(tags));
        }
        if let Some(body) = &update.body {
            // The description is the first comment and cannot change; a note carries the new text.
            let note = format!("**Description changed on the linked issue:**\n\n{body}");
            ticket.insert("comment".to_owned(), json!({"body": note, "public": false}));
        }
        if ticket.is_empty() {
            return Ok(());
        }
        api.put(&ticket_path(issue), &json!({"ticket": ticket}))
            .await
            .map(drop)
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        // NOTE: this call does not receive the target endpoint, so `public_comments` cannot
        // apply and comments are private notes. Only a created ticket's description follows it.
        put_comment(api, issue, body, false).await
    }

    async fn update_comment(
        &self,
        _api: &Api,
        issue: &IssueRef,
        comment_id: &str,
        _body: &str,
    ) -> Result<(), TargetError> {
        tracing::info!(ticket = %issue.key, comment_id, "Zendesk comments cannot be edited, so the edit is not applied");
        Ok(())
    }

    async fn delete_comment(
        &self,
        _api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        tracing::info!(ticket = %issue.key, comment_id, "Zendesk comments cannot be deleted, so the deletion is not applied");
        Ok(())
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        let body = format!(
            "Linked with {} issue [{}]({}). proxysync keeps the two in sync.",
            peer.tracker, peer.issue.key, peer.issue.url
        );
        put_comment(api, issue, &body, false).await.map(drop)
    }

    fn in_project(&self, _project: &Endpoint, issue: &IssueRef) -> bool {
        // The reference names no group, so `check_in_project` reads it before each write.
        !issue.key.is_empty() && issue.key.chars().all(|c| c.is_ascii_digit())
    }

    async fn check_in_project(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
    ) -> Result<Option<String>, TargetError> {
        let path = ticket_path(issue);
        let answer = api.get(&path).await?;
        if api.is_dry_run() {
            return Ok(None);
        }
        let group = match answer.pointer("/ticket/group_id") {
            Some(Value::Number(group)) => Some(group.to_string()),
            Some(Value::Null) | None if answer.pointer("/ticket/id").is_some() => None,
            _ => return Err(bad_response("GET", &path, "the answer has no ticket")),
        };
        if group.as_deref() == Some(project.project.as_str()) {
            return Ok(None);
        }
        let group = group.map_or_else(|| "no group".to_owned(), |group| format!("group {group}"));
        Ok(Some(format!(
            "Zendesk ticket {} is in {group}, not in group {} of the connection, so proxysync \
             does not write it; move the ticket back to group {} to sync it again",
            issue.key, project.project, project.project
        )))
    }

    fn dry_run_response(&self, method: &str, path: &str, _body: Option<&Value>) -> Value {
        match method {
            "POST" if path == "/api/v2/tickets" => json!({"ticket": {"id": 0}}),
            "PUT" => json!({"audit": {"events": [{"type": "Comment", "id": 0}]}}),
            "GET" if path == "/api/v2/users/me" => json!({"user": {"id": 0, "name": "(dry run)"}}),
            _ => json!({}),
        }
    }

    async fn preflight(&self, api: &Api, _instance: &Instance) -> Vec<PreflightCheck> {
        let name = "role admin".to_owned();
        match api.get("/api/v2/users/me").await {
            Ok(me) => {
                let role = me
                    .pointer("/user/role")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                let ok = role == "admin";
                let detail = if ok {
                    "the proxy user is an admin".to_owned()
                } else {
                    format!(
                        "the proxy user's role is {role}: make it an admin in Admin Center > \
                         Team members, since webhooks, triggers and tickets of every group need it"
                    )
                };
                vec![PreflightCheck { name, ok, detail }]
            }
            Err(error) => vec![PreflightCheck {
                name,
                ok: false,
                detail: format!("could not read /api/v2/users/me: {error}"),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_SECRET: &str = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";

    #[test]
    fn documented_vector_matches() {
        // Zendesk's static test secret, with a vector from a public receiver's test suite.
        let body = br#"{"event":"ticket.updated","id":123}"#;
        let signature = "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM=";
        assert!(signature_matches(
            TEST_SECRET,
            "2021-03-25T05:09:27Z",
            body,
            signature
        ));
        assert_eq!(sign(TEST_SECRET, "2021-03-25T05:09:27Z", body), signature);
    }

    #[test]
    fn changed_timestamp_fails() {
        let body = br#"{"event":"ticket.updated","id":123}"#;
        let signature = "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM=";
        assert!(!signature_matches(
            TEST_SECRET,
            "2021-03-25T05:09:28Z",
            body,
            signature
        ));
    }

    fn signed_request(secret: &str, timestamp: &str, body: &[u8]) -> InboundRequest {
        InboundRequest {
            headers: vec![
                (SIGNATURE_HEADER.to_owned(), sign(secret, timestamp, body)),
                (TIMESTAMP_HEADER.to_owned(), timestamp.to_owned()),
            ],
            body: body.to_vec(),
            ..InboundRequest::default()
        }
    }

    #[test]
    fn old_timestamp_rejected() {
        let secret = SecretString::from("s3cret");
        let request = signed_request("s3cret", "2021-03-25T05:09:27Z", b"{}");
        let result = Zendesk.verify(&request, &secret);
        assert!(
            matches!(result, Err(Rejection::StaleTimestamp { max_secs: 300, .. })),
            "{result:?}"
        );
    }

    #[test]
    fn max_age_option_read() {
        let mut instance = Instance {
            id: "zd".to_owned(),
            tracker: TrackerKind::Zendesk,
            base_url: "https://acme.zendesk.invalid".to_owned(),
            secret: "s".to_owned(),
            proxy: None,
            options: Default::default(),
        };
        assert_eq!(max_age_secs(&instance), DEFAULT_MAX_AGE_SECS);
        instance
            .options
            .insert(MAX_AGE_OPTION.to_owned(), json!(60));
        assert_eq!(max_age_secs(&instance), 60);
    }

    #[test]
    fn statuses_map_to_state() {
        assert_eq!(state_of("SOLVED"), IssueState::Closed);
        assert_eq!(state_of("Closed"), IssueState::Closed);
        assert_eq!(state_of("PENDING"), IssueState::Open);
        assert_eq!(state_of("hold"), IssueState::Open);
    }
}
