//! The fake Salesforce org, mounted under `/salesforce`: the OAuth refresh token grant, the
//! userinfo endpoint, and the REST sObject API (create, read, update, delete, describe) for
//! any sObject type.
//!
//! Every write to a record whose type has an Outbound Message (Case and CaseComment by
//! default) records the SOAP request that Salesforce would send, with the fields that
//! `infra/salesforce/README.md` asks the message to select.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::webhooks::{RecordedWebhook, Tracker};

/// Configuration of the fake org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceConfig {
    /// The 18-character org id that outbound messages carry.
    pub organization_id: String,
    pub users: Vec<SalesforceUser>,
    pub client_id: String,
    pub client_secret: String,
    /// sObject types whose writes record an outbound message.
    pub outbound_types: Vec<String>,
}

/// A user of the fake org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceUser {
    /// The 18-character user id.
    pub id: String,
    pub username: String,
    pub name: String,
}

impl SalesforceConfig {
    /// The demo org: the proxy user `sync.proxy@example.com` and the person `casey.agent@example.com`.
    pub fn demo() -> Self {
        SalesforceConfig {
            organization_id: "00D000000000042AAA".to_owned(),
            users: vec![
                SalesforceUser {
                    id: "005000000000001AAA".to_owned(),
                    username: "sync.proxy@example.com".to_owned(),
                    name: "Sync Proxy".to_owned(),
                },
                SalesforceUser {
                    id: "005000000000002AAA".to_owned(),
                    username: "casey.agent@example.com".to_owned(),
                    name: "Casey Agent".to_owned(),
                },
            ],
            client_id: "sandbox-salesforce-client".to_owned(),
            client_secret: "sandbox-salesforce-client-secret".to_owned(),
            outbound_types: vec!["Case".to_owned(), "CaseComment".to_owned()],
        }
    }
}

/// A record of any sObject type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesforceRecord {
    pub sobject_type: String,
    pub id: String,
    pub fields: Map<String, Value>,
}

impl SalesforceRecord {
    /// Returns a field as a string, or "" when it is absent or not a string.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// The mutable state of the fake org.
#[derive(Debug, Default)]
pub(crate) struct SfStore {
    records: Vec<SalesforceRecord>,
    refresh_tokens: HashMap<String, String>,
    access_tokens: HashMap<String, String>,
    next: u64,
    notifications: u64,
}

impl SfStore {
    /// Clears records; tokens stay valid, like a real org's.
    pub(crate) fn reset(&mut self) {
        self.records.clear();
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:012}AAA", self.next)
    }
}

fn now_iso() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

fn errors(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!([{"message": message, "errorCode": code}]);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An error answer in Salesforce's shape, small enough to return in a `Result`.
struct SfError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        errors(self.status, self.code, self.message)
    }
}

/// The default error body of an injected fault, in Salesforce's shape.
pub(crate) fn fault_body(status: StatusCode) -> Value {
    let code = if status == StatusCode::FORBIDDEN {
        "REQUEST_LIMIT_EXCEEDED"
    } else {
        "UNKNOWN_EXCEPTION"
    };
    json!([{"message": status.canonical_reason().unwrap_or("Error"), "errorCode": code}])
}

fn caller(app: &App, headers: &HeaderMap) -> Result<SalesforceUser, SfError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let user_id = app.lock().salesforce.access_tokens.get(token).cloned();
    user_id
        .and_then(|id| {
            app.config
                .salesforce
                .users
                .iter()
                .find(|u| u.id == id)
                .cloned()
        })
        .ok_or(SfError {
            status: StatusCode::UNAUTHORIZED,
            code: "INVALID_SESSION_ID",
            message: "Session expired or invalid",
        })
}

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/oauth2/userinfo", get(userinfo))
        .route("/services/data/{version}/sobjects/{kind}/", post(create))
        .route(
            "/services/data/{version}/sobjects/{kind}/describe",
            get(describe),
        )
        .route(
            "/services/data/{version}/sobjects/{kind}/{id}",
            get(read).patch(update).delete(remove),
        )
}

async fn token(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let config = &app.config.salesforce;
    if field("client_id") != config.client_id || field("client_secret") != config.client_secret {
        let body =
            json!({"error": "invalid_client", "error_description": "invalid client credentials"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let mut shared = app.lock();
    let store = &mut shared.salesforce;
    let Some(user) = store.refresh_tokens.get(field("refresh_token")).cloned() else {
        let body =
            json!({"error": "invalid_grant", "error_description": "expired access/refresh token"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    let access = format!(
        "{}!{}",
        &config.organization_id[..15],
        uuid::Uuid::new_v4().simple()
    );
    store.access_tokens.insert(access.clone(), user.clone());
    // Like Salesforce: no expires_in, and no new refresh token.
    let body = json!({
        "access_token": access,
        "signature": "c2FuZGJveA==",
        "scope": "refresh_token api",
        "instance_url": app.urls.salesforce,
        "id": format!("https://login.example.invalid/id/{}/{user}", config.organization_id),
        "token_type": "Bearer",
        "issued_at": (time::OffsetDateTime::now_utc().unix_timestamp() * 1000).to_string(),
    });
    axum::Json(body).into_response()
}

async fn userinfo(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match caller(&app, &headers) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    let org = &app.config.salesforce.organization_id;
    axum::Json(json!({
        "sub": format!("https://login.example.invalid/id/{org}/{}", user.id),
        "user_id": user.id,
        "organization_id": org,
        "preferred_username": user.username,
        "name": user.name,
        "active": true,
    }))
    .into_response()
}

async fn describe(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((_, kind)): Path<(String, String)>,
) -> Response {
    if let Err(error) = caller(&app, &headers) {
        return error.into_response();
    }
    axum::Json(json!({"name": kind, "createable": true, "updateable": true, "deletable": true}))
        .into_response()
}

fn object(body: &Bytes) -> Result<Map<String, Value>, SfError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(SfError {
            status: StatusCode::BAD_REQUEST,
            code: "JSON_PARSER_ERROR",
            message: "The request body is not a JSON object",
        }),
    }
}

async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((_, kind)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let user = match caller(&app, &headers) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    let fields = match object(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    if kind == "Case"
        && fields
            .get("Subject")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return errors(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [Subject]",
        );
    }
    let mut shared = app.lock();
    let prefix = match kind.as_str() {
        "Case" => "500",
        "CaseComment" => "00a",
        "FeedItem" => "0D5",
        _ => "a00",
    };
    let id = shared.salesforce.new_id(prefix);
    let now = now_iso();
    let mut record = SalesforceRecord {
        sobject_type: kind.clone(),
        id: id.clone(),
        fields,
    };
    record.fields.insert("Id".to_owned(), json!(id));
    if kind == "Case" {
        let number = format!("{:08}", 1000 + shared.salesforce.next);
        record.fields.insert("CaseNumber".to_owned(), json!(number));
        record.fields.entry("Status").or_insert(json!("New"));
    }
    for (name, value) in [("CreatedById", &user.id), ("LastModifiedById", &user.id)] {
        record.fields.insert(name.to_owned(), json!(value));
    }
    record.fields.insert("CreatedDate".to_owned(), json!(now));
    record
        .fields
        .insert("LastModifiedDate".to_owned(), json!(now));
    shared.salesforce.records.push(record.clone());
    if let Some(webhook) = outbound(&app, &mut shared.salesforce, &[record]) {
        shared.emit(webhook);
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "success": true, "errors": []})),
    )
        .into_response()
}

async fn read(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((_, kind, id)): Path<(String, String, String)>,
) -> Response {
    if let Err(error) = caller(&app, &headers) {
        return error.into_response();
    }
    let shared = app.lock();
    match shared
        .salesforce
        .records
        .iter()
        .find(|r| r.sobject_type == kind && r.id == id)
    {
        Some(record) => axum::Json(Value::Object(record.fields.clone())).into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
}

async fn update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((_, kind, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let user = match caller(&app, &headers) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    let fields = match object(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let mut shared = app.lock();
    let Some(record) = shared
        .salesforce
        .records
        .iter_mut()
        .find(|r| r.sobject_type == kind && r.id == id)
    else {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    };
    record.fields.extend(fields);
    record
        .fields
        .insert("LastModifiedById".to_owned(), json!(user.id));
    record
        .fields
        .insert("LastModifiedDate".to_owned(), json!(now_iso()));
    let record = record.clone();
    if let Some(webhook) = outbound(&app, &mut shared.salesforce, &[record]) {
        shared.emit(webhook);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn remove(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((_, kind, id)): Path<(String, String, String)>,
) -> Response {
    if let Err(error) = caller(&app, &headers) {
        return error.into_response();
    }
    let mut shared = app.lock();
    let before = shared.salesforce.records.len();
    shared
        .salesforce
        .records
        .retain(|r| !(r.sobject_type == kind && r.id == id));
    if shared.salesforce.records.len() == before {
        return errors(
            StatusCode::NOT_FOUND,
            "ENTITY_IS_DELETED",
            "entity is deleted",
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Fields an outbound message on each type selects, as the setup guide lists them.
fn selected_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Case" => &[
            "Id",
            "CaseNumber",
            "CreatedDate",
            "Description",
            "LastModifiedById",
            "LastModifiedDate",
            "Status",
            "Subject",
        ],
        "CaseComment" => &[
            "Id",
            "CommentBody",
            "CreatedDate",
            "LastModifiedById",
            "LastModifiedDate",
            "ParentId",
        ],
        _ => &["Id", "CreatedDate", "LastModifiedById", "LastModifiedDate"],
    }
}

/// Builds the outbound message for `records`, or `None` when none of their types has one.
fn outbound(
    app: &App,
    store: &mut SfStore,
    records: &[SalesforceRecord],
) -> Option<RecordedWebhook> {
    let config = &app.config.salesforce;
    let records: Vec<&SalesforceRecord> = records
        .iter()
        .filter(|r| config.outbound_types.contains(&r.sobject_type))
        .collect();
    if records.is_empty() {
        return None;
    }
    let mut notifications = String::new();
    for record in records {
        store.notifications += 1;
        let mut fields = String::new();
        for name in selected_fields(&record.sobject_type) {
            match record.fields.get(*name).and_then(Value::as_str) {
                Some(value) => {
                    fields.push_str(&format!("<sf:{name}>{}</sf:{name}>", escape(value)))
                }
                None => fields.push_str(&format!("<sf:{name} xsi:nil=\"true\"/>")),
            }
        }
        notifications.push_str(&format!(
            "<Notification><Id>04l{:012}AAA</Id><sObject xsi:type=\"sf:{}\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">{fields}</sObject></Notification>",
            store.notifications, record.sobject_type
        ));
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\"><OrganizationId>{}</OrganizationId><ActionId>04k000000000001AAA</ActionId><EnterpriseUrl>{}/services/Soap/c/60.0/{}</EnterpriseUrl><PartnerUrl>{}/services/Soap/u/60.0/{}</PartnerUrl>{notifications}</notifications></soapenv:Body></soapenv:Envelope>",
        config.organization_id,
        app.urls.salesforce,
        &config.organization_id[..15],
        app.urls.salesforce,
        &config.organization_id[..15],
    );
    Some(RecordedWebhook {
        tracker: Tracker::Salesforce.as_str().to_owned(),
        headers: vec![
            (
                "Content-Type".to_owned(),
                "text/xml; charset=utf-8".to_owned(),
            ),
            ("SOAPAction".to_owned(), "\"\"".to_owned()),
        ],
        body: body.into_bytes(),
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Issues a refresh token for `username`, as the web-server flow's first sign-in would, or
/// returns `None` when the user is not configured.
pub(crate) fn issue_refresh_token(app: &App, username: &str) -> Option<String> {
    let user = app
        .config
        .salesforce
        .users
        .iter()
        .find(|u| u.username == username)?;
    let token = format!("5Aep{}", uuid::Uuid::new_v4().simple());
    app.lock()
        .salesforce
        .refresh_tokens
        .insert(token.clone(), user.id.clone());
    Some(token)
}

/// Test controls of the fake org, from [`crate::Sandbox::salesforce`].
pub struct SalesforceControl<'a> {
    pub(crate) app: &'a App,
}

impl SalesforceControl<'_> {
    /// Issues a refresh token for `username`, as the web-server flow's first sign-in would.
    ///
    /// # Panics
    /// When the user is not configured.
    pub fn issue_refresh_token(&self, username: &str) -> String {
        issue_refresh_token(self.app, username)
            .unwrap_or_else(|| panic!("no sandbox Salesforce user {username:?}"))
    }

    /// Makes every access token issued so far invalid, so the next call with one gets 401.
    pub fn expire_access_tokens(&self) {
        self.app.lock().salesforce.access_tokens.clear();
    }

    /// Creates or updates a record as `user_id` without an API call, and returns the outbound
    /// message that the change sends (when its type has one).
    pub fn write_as(
        &self,
        user_id: &str,
        sobject_type: &str,
        id: Option<&str>,
        fields: Map<String, Value>,
    ) -> (String, Option<RecordedWebhook>) {
        let mut shared = self.app.lock();
        let now = now_iso();
        let index = match id {
            Some(id) => shared
                .salesforce
                .records
                .iter()
                .position(|r| r.id == id)
                .unwrap_or_else(|| panic!("no sandbox Salesforce record {id}")),
            None => {
                let id =
                    shared
                        .salesforce
                        .new_id(if sobject_type == "Case" { "500" } else { "00a" });
                let mut record = SalesforceRecord {
                    sobject_type: sobject_type.to_owned(),
                    id: id.clone(),
                    fields: Map::new(),
                };
                record.fields.insert("Id".to_owned(), json!(id));
                record.fields.insert("CreatedDate".to_owned(), json!(now));
                if sobject_type == "Case" {
                    let number = format!("{:08}", 1000 + shared.salesforce.next);
                    record.fields.insert("CaseNumber".to_owned(), json!(number));
                }
                shared.salesforce.records.push(record);
                shared.salesforce.records.len() - 1
            }
        };
        let record = &mut shared.salesforce.records[index];
        record.fields.extend(fields);
        record
            .fields
            .insert("LastModifiedById".to_owned(), json!(user_id));
        record
            .fields
            .insert("LastModifiedDate".to_owned(), json!(now));
        let record = record.clone();
        let message = outbound(
            self.app,
            &mut shared.salesforce,
            std::slice::from_ref(&record),
        );
        (record.id, message)
    }

    /// Returns a copy of every record, in creation order.
    pub fn records(&self) -> Vec<SalesforceRecord> {
        self.app.lock().salesforce.records.clone()
    }
}
