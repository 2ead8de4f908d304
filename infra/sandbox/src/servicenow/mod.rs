//! The fake ServiceNow instance, mounted under `/servicenow`: the Table API for any table,
//! `sys_user` and `sys_journal_field` look-ups, and `/oauth_token.do`.
//!
//! Every insert or update of a record records the webhook that proxysync's business rule
//! (`infra/servicenow/`) would post, signed the same way.

mod config;
mod oauth;
mod tables;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;

pub use config::{OauthClient, ServicenowConfig, ServicenowUser};

/// A record of any table, with every field as a string, as the Table API returns them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicenowRecord {
    pub table: String,
    pub sys_id: String,
    pub fields: serde_json::Map<String, Value>,
}

impl ServicenowRecord {
    /// Returns a field's value as a string, or "" when it is absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A `sys_journal_field` row: a comment or a work note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicenowJournal {
    pub sys_id: String,
    /// `comments` or `work_notes`.
    pub element: String,
    pub element_id: String,
    /// The table of the record.
    pub name: String,
    pub value: String,
    pub sys_created_by: String,
    pub sys_created_on: String,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    user_sys_id: String,
    client_id: String,
    revoked: bool,
    /// The token that replaced this one on rotation; using it revokes this one.
    successor: Option<String>,
}

#[derive(Debug, Clone)]
struct AccessGrant {
    user_sys_id: String,
    expires_at: i64,
}

/// The mutable state of the fake instance.
#[derive(Debug, Default)]
pub(crate) struct SnStore {
    records: Vec<ServicenowRecord>,
    journal: Vec<ServicenowJournal>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    access_tokens: HashMap<String, AccessGrant>,
    numbers: u64,
    last_second: i64,
    /// Runtime settings, taken from the configuration on first use.
    settings: Option<Settings>,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    lifetime_secs: i64,
    rotate: bool,
    latency_ms: u64,
}

impl SnStore {
    /// Clears records and journal entries; tokens stay valid, like a real instance's.
    pub(crate) fn reset(&mut self) {
        self.records.clear();
        self.journal.clear();
    }

    fn settings(&mut self, config: &ServicenowConfig) -> Settings {
        *self.settings.get_or_insert(Settings {
            lifetime_secs: config.access_token_lifetime_secs,
            rotate: config.rotate_refresh_tokens,
            latency_ms: config.token_latency_ms,
        })
    }

    /// Returns the next write time in whole seconds, at least one second after the last.
    fn tick(&mut self) -> i64 {
        let now = now_secs();
        self.last_second = now.max(self.last_second + 1);
        self.last_second
    }
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Formats epoch seconds as ServiceNow's `yyyy-MM-dd HH:mm:ss` in UTC.
fn glide_time(seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|time| time.format(&format).ok())
        .unwrap_or_default()
}

fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn new_token() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The authenticated caller of a Table API request, put in the extensions by the gateway.
#[derive(Debug, Clone)]
pub(crate) struct SnCaller(pub(crate) ServicenowUser);

/// An error in ServiceNow's shape: `{"error": {"message", "detail"}, "status": "failure"}`.
#[derive(Debug)]
pub(crate) struct SnError {
    status: StatusCode,
    message: String,
    detail: String,
}

impl SnError {
    pub(crate) fn new(status: StatusCode, message: &str, detail: &str) -> Self {
        SnError {
            status,
            message: message.to_owned(),
            detail: detail.to_owned(),
        }
    }

    fn unauthorized(detail: &str) -> Self {
        SnError::new(StatusCode::UNAUTHORIZED, "User Not Authenticated", detail)
    }
}

impl IntoResponse for SnError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"message": self.message, "detail": self.detail},
            "status": "failure",
        });
        json_response(self.status, &body)
    }
}

/// Builds a response with a JSON body and ServiceNow's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// The default error body of an injected fault.
pub(crate) fn fault_body(status: StatusCode) -> Value {
    let message = if status == StatusCode::TOO_MANY_REQUESTS {
        "Rate limit exceeded"
    } else {
        status.canonical_reason().unwrap_or("Error")
    };
    json!({"error": {"message": message, "detail": null}, "status": "failure"})
}

/// Authenticates a `/servicenow` request: Basic `user_name:password` or a Bearer access token.
/// The token endpoint takes its credentials in the form, so it passes as `Ok(None)`.
pub(crate) fn authenticate(
    app: &App,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<ServicenowUser>, SnError> {
    if path.ends_with("/oauth_token.do") {
        return Ok(None);
    }
    let config = &app.config.servicenow;
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| SnError::unauthorized("Required to provide Auth information"))?;
    let (scheme, credential) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| SnError::unauthorized("Invalid Authorization header"))?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASE64
            .decode(credential.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| SnError::unauthorized("Invalid Authorization header"))?;
        let (user_name, password) = decoded
            .split_once(':')
            .ok_or_else(|| SnError::unauthorized("Invalid Authorization header"))?;
        return config
            .users
            .iter()
            .find(|user| user.user_name == user_name && user.password == password)
            .cloned()
            .map(Some)
            .ok_or_else(|| SnError::unauthorized("Invalid user name or password"));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        let shared = app.lock();
        let grant = shared
            .servicenow
            .access_tokens
            .get(credential.trim())
            .filter(|grant| grant.expires_at > now_secs())
            .ok_or_else(|| SnError::unauthorized("Invalid or expired access token"))?;
        return config
            .users
            .iter()
            .find(|user| user.sys_id == grant.user_sys_id)
            .cloned()
            .map(Some)
            .ok_or_else(|| SnError::unauthorized("The token's user no longer exists"));
    }
    Err(SnError::unauthorized("Unsupported authorization scheme"))
}

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/oauth_token.do", post(oauth::token))
        .route(
            "/api/now/table/{table}",
            get(tables::list).post(tables::create),
        )
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(tables::get).patch(tables::update).put(tables::update),
        )
        .fallback(not_found)
}

async fn not_found() -> Response {
    SnError::new(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        "No resource matches the request path in the sandbox.",
    )
    .into_response()
}

/// Test controls of the fake ServiceNow instance, from [`crate::Sandbox::servicenow`].
pub struct ServicenowControl<'a> {
    pub(crate) app: &'a App,
}

impl ServicenowControl<'_> {
    /// Issues an access token and a refresh token for `user_name` through `client_id`, as an
    /// administrator's password grant would, and returns (access token, refresh token).
    ///
    /// # Panics
    /// When the user or the client is not configured.
    pub fn issue_tokens(&self, user_name: &str, client_id: &str) -> (String, String) {
        let config = &self.app.config.servicenow;
        let user = config
            .users
            .iter()
            .find(|user| user.user_name == user_name)
            .unwrap_or_else(|| panic!("no sandbox ServiceNow user {user_name:?}"));
        assert!(
            config
                .oauth_clients
                .iter()
                .any(|c| c.client_id == client_id),
            "no sandbox ServiceNow OAuth client {client_id:?}"
        );
        let mut shared = self.app.lock();
        let store = &mut shared.servicenow;
        let settings = store.settings(config);
        let refresh = new_token();
        store.refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant {
                user_sys_id: user.sys_id.clone(),
                client_id: client_id.to_owned(),
                revoked: false,
                successor: None,
            },
        );
        let access = new_token();
        store.access_tokens.insert(
            access.clone(),
            AccessGrant {
                user_sys_id: user.sys_id.clone(),
                expires_at: now_secs() + settings.lifetime_secs,
            },
        );
        (access, refresh)
    }

    /// Revokes every refresh token of `user_name`; a refresh with one returns `invalid_grant`.
    pub fn revoke_refresh_tokens(&self, user_name: &str) {
        let config = &self.app.config.servicenow;
        let Some(user) = config.users.iter().find(|u| u.user_name == user_name) else {
            return;
        };
        let mut shared = self.app.lock();
        for grant in shared.servicenow.refresh_tokens.values_mut() {
            if grant.user_sys_id == user.sys_id {
                grant.revoked = true;
            }
        }
    }

    /// Makes every access token issued so far expire now, so the next call with one gets 401.
    pub fn expire_access_tokens(&self) {
        let now = now_secs();
        let mut shared = self.app.lock();
        for grant in shared.servicenow.access_tokens.values_mut() {
            grant.expires_at = grant.expires_at.min(now);
        }
    }

    /// Sets whether refreshes rotate the refresh token.
    pub fn set_rotation(&self, rotate: bool) {
        let config = &self.app.config.servicenow;
        let mut shared = self.app.lock();
        let store = &mut shared.servicenow;
        let mut settings = store.settings(config);
        settings.rotate = rotate;
        store.settings = Some(settings);
    }

    /// Sets the lifetime of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, seconds: i64) {
        let config = &self.app.config.servicenow;
        let mut shared = self.app.lock();
        let store = &mut shared.servicenow;
        let mut settings = store.settings(config);
        settings.lifetime_secs = seconds;
        store.settings = Some(settings);
    }

    /// Sets how long the token endpoint waits after issuing tokens, before it responds.
    pub fn set_token_latency_ms(&self, milliseconds: u64) {
        let config = &self.app.config.servicenow;
        let mut shared = self.app.lock();
        let store = &mut shared.servicenow;
        let mut settings = store.settings(config);
        settings.latency_ms = milliseconds;
        store.settings = Some(settings);
    }

    /// Returns a copy of every record, in creation order.
    pub fn records(&self) -> Vec<ServicenowRecord> {
        self.app.lock().servicenow.records.clone()
    }

    /// Returns a copy of every journal entry, in creation order.
    pub fn journal(&self) -> Vec<ServicenowJournal> {
        self.app.lock().servicenow.journal.clone()
    }

    /// Returns true when `access_token` is known and not expired.
    pub fn access_token_valid(&self, access_token: &str) -> bool {
        self.app
            .lock()
            .servicenow
            .access_tokens
            .get(access_token)
            .is_some_and(|grant| grant.expires_at > now_secs())
    }
}
