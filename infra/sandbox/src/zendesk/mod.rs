//! The fake Zendesk Support API, mounted under `/zendesk`.
//!
//! Requests authenticate with Basic `{email}/token:{api_token}`. Every ticket write records the
//! webhook Zendesk sends: by default the ticket events of an event subscription
//! (`zen:event-type:ticket.created`, `ticket.subject_changed`, `ticket.status_changed`,
//! `ticket.group_assignment_changed`, `ticket.tags_changed`, `ticket.comment_added`), or with
//! `trigger_webhooks` the bodies of proxysync's trigger template (`infra/zendesk/`). Each is
//! signed with `X-Zendesk-Webhook-Signature` over the current timestamp and the body.

mod events;
mod handlers;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::clock::LogicalClock;

/// Users, groups and the webhook signing secret of the fake Zendesk account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZendeskConfig {
    pub account_id: u64,
    pub users: Vec<ZendeskUser>,
    /// Group ids that tickets may belong to.
    pub groups: Vec<u64>,
    /// The webhook's signing secret.
    pub webhook_secret: String,
    /// Record trigger-template bodies instead of ticket events.
    #[serde(default)]
    pub trigger_webhooks: bool,
}

/// A Zendesk user with an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZendeskUser {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub api_token: String,
    /// "admin", "agent" or "end-user".
    pub role: String,
}

impl ZendeskConfig {
    /// Builds the demo account: the admin "ProxySync Bot", the agent "Carol Agent", the admin
    /// "Dana Admin", and the groups 360001 and 360002.
    pub fn demo() -> Self {
        ZendeskConfig {
            account_id: 22_000_001,
            users: vec![
                ZendeskUser {
                    id: 9_001_000_001,
                    name: "ProxySync Bot".to_owned(),
                    email: "proxysync-bot@acme.example".to_owned(),
                    api_token: "sandbox-zendesk-token-proxysync".to_owned(),
                    role: "admin".to_owned(),
                },
                ZendeskUser {
                    id: 9_001_000_002,
                    name: "Carol Agent".to_owned(),
                    email: "carol@acme.example".to_owned(),
                    api_token: "sandbox-zendesk-token-carol".to_owned(),
                    role: "agent".to_owned(),
                },
                ZendeskUser {
                    id: 9_001_000_003,
                    name: "Dana Admin".to_owned(),
                    email: "dana@acme.example".to_owned(),
                    api_token: "sandbox-zendesk-token-dana".to_owned(),
                    role: "admin".to_owned(),
                },
            ],
            groups: vec![360_001, 360_002],
            webhook_secret: "sandbox-zendesk-signing-secret".to_owned(),
            trigger_webhooks: false,
        }
    }
}

/// Tickets and comments of the fake Zendesk account, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ZendeskState {
    pub tickets: Vec<ZendeskTicket>,
    pub comments: Vec<ZendeskComment>,
}

/// A ticket, with Zendesk's lower-case status names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZendeskTicket {
    pub id: u64,
    pub subject: String,
    /// The text of the first comment.
    pub description: String,
    /// "new", "open", "pending", "hold", "solved" or "closed".
    pub status: String,
    pub tags: Vec<String>,
    pub group_id: Option<u64>,
    pub requester_id: u64,
    pub submitter_id: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// A public reply or private note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZendeskComment {
    pub id: u64,
    pub ticket_id: u64,
    pub body: String,
    pub public: bool,
    pub author_id: u64,
    pub created_at: String,
}

/// The stored records, the id sequence and the clock of the fake account.
#[derive(Debug)]
pub(crate) struct ZendeskStore {
    pub(crate) state: ZendeskState,
    next_id: u64,
    pub(crate) clock: LogicalClock,
}

impl Default for ZendeskStore {
    fn default() -> Self {
        ZendeskStore {
            state: ZendeskState::default(),
            next_id: 0,
            clock: LogicalClock::github(),
        }
    }
}

impl ZendeskStore {
    /// Returns the next comment or audit id; ticket ids count separately.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        8_660_000_000_000 + self.next_id
    }

    /// Clears the records and keeps the clock.
    pub(crate) fn reset(&mut self) {
        self.state = ZendeskState::default();
        self.next_id = 0;
    }
}

/// An error in Zendesk's shape: `{"error": ..., "description": ...}`.
#[derive(Debug)]
pub(crate) struct ZendeskError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl ZendeskError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        ZendeskError {
            status,
            error,
            description: description.into(),
        }
    }

    pub(crate) fn not_found() -> Self {
        ZendeskError::new(StatusCode::NOT_FOUND, "RecordNotFound", "Not found")
    }

    pub(crate) fn invalid(description: impl Into<String>) -> Self {
        ZendeskError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "RecordInvalid",
            description,
        )
    }

    pub(crate) fn unauthorized() -> Self {
        ZendeskError::new(
            StatusCode::UNAUTHORIZED,
            "Couldn't authenticate you",
            "Couldn't authenticate you",
        )
    }
}

impl IntoResponse for ZendeskError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({"error": self.error, "description": self.description}),
        )
    }
}

/// Builds a response with a JSON body.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The authenticated Zendesk user, put in the request extensions by the gateway.
#[derive(Debug, Clone)]
pub(crate) struct ZendeskCaller(pub(crate) ZendeskUser);

/// Finds the user of a Basic `{email}/token:{api_token}` header.
pub(crate) fn authenticate(
    config: &ZendeskConfig,
    headers: &HeaderMap,
) -> Result<ZendeskUser, ZendeskError> {
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("Basic "))
        .and_then(|encoded| BASE64.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(ZendeskError::unauthorized)?;
    let (user, token) = decoded
        .split_once(':')
        .ok_or_else(ZendeskError::unauthorized)?;
    let email = user
        .strip_suffix("/token")
        .ok_or_else(ZendeskError::unauthorized)?;
    config
        .users
        .iter()
        .find(|known| known.email.eq_ignore_ascii_case(email) && known.api_token == token)
        .cloned()
        .ok_or_else(ZendeskError::unauthorized)
}

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v2/users/me", get(handlers::me))
        .route("/api/v2/tickets", post(handlers::create_ticket))
        .route(
            "/api/v2/tickets/{id}",
            get(handlers::get_ticket).put(handlers::update_ticket),
        )
        .route("/api/v2/tickets/{id}/comments", get(handlers::comments))
        .fallback(handlers::not_found)
}
