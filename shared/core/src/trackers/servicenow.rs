//! ServiceNow: a business rule's signed POST in, the Table API out.
//!
//! ServiceNow has no record webhook, so `infra/servicenow/` ships a business
//! rule that posts the record's table, sys_id, number, changed fields, the new
//! journal entry and the acting user, signed with
//! `X-Proxysync-Signature: sha256=<base64 HMAC-SHA256 of the body>`.
//!
//! A connection endpoint's `project` is the table name (`incident`, `problem`,
//! any table); `options.table` may name it instead. Issue ids are
//! `{table}/{sys_id}`, so the scope check needs no lookup, and keys are the
//! record numbers. Options of an endpoint: `closed_state` (default `6`,
//! Resolved), `open_state` (default `1`, New), `close_code` and `close_notes`
//! (written when closing). Option of an instance: `journal_field`, the field
//! that comments from other trackers go to: `work_notes` (default, internal)
//! or `comments` (visible to the caller).

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    Author, Change, ChangeEvent, CommentContent, Endpoint, Field, IssueContent, IssueRef,
    IssueState, ProxyIdentity, TrackerKind,
};
use crate::options::{InstanceOption, OptionKind};
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, Source, Target, TrackerModule,
};

/// The header the business rule signs with.
pub const SIGNATURE_HEADER: &str = "x-proxysync-signature";
const DEFAULT_TABLE: &str = "incident";
const DEFAULT_CLOSED_STATE: &str = "6";
const DEFAULT_OPEN_STATE: &str = "1";
const DEFAULT_CLOSE_CODE: &str = "Solved (Permanently)";
const DEFAULT_CLOSE_NOTES: &str = "Closed on the linked issue; synced by proxysync.";
/// Incident states that count as closed: Resolved, Closed and Canceled. Resolved incidents
/// stay active until they close, so `active` alone would read them as open, although
/// proxysync itself writes Resolved when the other side closes.
const CLOSED_STATES: [&str; 3] = ["6", "7", "8"];

/// The instance options ServiceNow reads, besides those of [`crate::oauth`].
pub const INSTANCE_OPTIONS: &[InstanceOption] = &[InstanceOption::new(
    "journal_field",
    OptionKind::OneOf(&["work_notes", "comments"]),
)];

/// The ServiceNow tracker module.
pub struct Servicenow;

impl TrackerModule for Servicenow {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"username": "...", "password": "...", "webhook_secret": "..."}, or "client_id", "client_secret" and "refresh_token" in place of "username" and "password""#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        let oauth = credentials.client_id.is_some() || credentials.refresh_token.is_some();
        if oauth {
            let token = credentials.access_token.clone().ok_or(
                "the secret has no \"access_token\" field: run `proxysync instance add` or the token refresher to fetch one",
            )?;
            return Ok(Auth::Bearer(token));
        }
        let user = credentials.username.clone().ok_or(
            "the secret has no \"username\" field: store the proxy user's ServiceNow user name there, or OAuth fields (client_id, client_secret, refresh_token)",
        )?;
        let password = credentials
            .password
            .clone()
            .ok_or("the secret has no \"password\" field: store the proxy user's password there")?;
        Ok(Auth::Basic { user, password })
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }
}

/// Computes the signature header value the business rule sends for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", BASE64.encode(mac.finalize().into_bytes()))
}

#[derive(Deserialize)]
struct Actor {
    sys_id: String,
    #[serde(default)]
    user_name: String,
}

#[derive(Deserialize)]
struct Journal {
    element: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    sys_id: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    table: String,
    sys_id: String,
    #[serde(default)]
    number: Option<String>,
    operation: String,
    #[serde(default)]
    sys_mod_count: Option<Value>,
    #[serde(default)]
    sys_updated_on: Option<String>,
    #[serde(default)]
    changed_fields: Vec<String>,
    #[serde(default)]
    record: Map<String, Value>,
    #[serde(default)]
    journal: Option<Journal>,
    actor: Actor,
    #[serde(default)]
    instance_url: Option<String>,
}

impl Source for Servicenow {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        let value = request
            .header(SIGNATURE_HEADER)
            .ok_or(Rejection::MissingSignature("X-Proxysync-Signature"))?;
        let encoded = value
            .trim()
            .strip_prefix("sha256=")
            .ok_or(Rejection::BadSignature("X-Proxysync-Signature"))?;
        let expected = BASE64
            .decode(encoded)
            .map_err(|_| Rejection::BadSignature("X-Proxysync-Signature"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(&request.body);
        mac.verify_slice(&expected)
            .map_err(|_| Rejection::BadSignature("X-Proxysync-Signature"))
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        let payload: Payload = serde_json::from_slice(&request.body)
            .map_err(|error| Rejection::not_payload(format!("business rule payload: {error}")))?;
        if !valid_name(&payload.table) {
            return Err(Rejection::Malformed(format!(
                "invalid table name {:?}: expected letters, digits and _",
                payload.table
            )));
        }
        if payload.sys_id.is_empty() || payload.actor.sys_id.is_empty() {
            return Err(Rejection::Malformed(
                "business rule payload needs sys_id and actor.sys_id".to_owned(),
            ));
        }
        let mod_count = match &payload.sys_mod_count {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => String::new(),
        };
        let event_name = format!("{}.{}", payload.table, payload.operation);
        let mut parsed = Parsed {
            delivery_id: (!mod_count.is_empty())
                .then(|| format!("{}/{}/{mod_count}", payload.table, payload.sys_id)),
            event_name: event_name.clone(),
            ..Parsed::default()
        };

        let at_ms = payload
            .sys_updated_on
            .as_deref()
            .map(|text| {
                parse_glide_time(text).ok_or_else(|| {
                    Rejection::Malformed(format!(
                        "invalid sys_updated_on {text:?}: expected yyyy-MM-dd HH:mm:ss in UTC"
                    ))
                })
            })
            .transpose()?
            .unwrap_or_else(crate::time_util::now_ms);
        let base = payload
            .instance_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/');
        let issue = IssueRef {
            key: payload
                .number
                .clone()
                .filter(|number| !number.is_empty())
                .unwrap_or_else(|| payload.sys_id.clone()),
            id: format!("{}/{}", payload.table, payload.sys_id),
            url: format!("{base}/{}.do?sys_id={}", payload.table, payload.sys_id),
        };
        let author = Author {
            id: payload.actor.sys_id.clone(),
            name: payload.actor.user_name.clone(),
        };
        let event = |kind: &str, change: Change| ChangeEvent {
            kind: kind.to_owned(),
            tracker: TrackerKind::Servicenow,
            instance: instance.to_owned(),
            project: payload.table.clone(),
            issue: issue.clone(),
            content: content_of(&payload.table, &payload.record),
            author: author.clone(),
            at_ms,
            change,
        };

        match payload.operation.as_str() {
            "insert" => parsed.events.push(event(&event_name, Change::IssueCreated)),
            "update" => {
                let mut fields = Vec::new();
                for name in &payload.changed_fields {
                    let field = match name.as_str() {
                        "short_description" => Field::Title,
                        "description" => Field::Body,
                        "state" | "active" => Field::State,
                        _ => continue,
                    };
                    if !fields.contains(&field) {
                        fields.push(field);
                    }
                }
                if !fields.is_empty() {
                    let change = Change::IssueUpdated {
                        fields,
                        labels_added: Vec::new(),
                        labels_removed: Vec::new(),
                    };
                    parsed.events.push(event(&event_name, change));
                }
            }
            other => {
                return Err(Rejection::Malformed(format!(
                    "unknown operation {other:?}: expected insert or update"
                )));
            }
        }

        if let Some(journal) = &payload.journal
            && !journal.value.trim().is_empty()
        {
            if !matches!(journal.element.as_str(), "comments" | "work_notes") {
                return Err(Rejection::Malformed(format!(
                    "unknown journal element {:?}: expected comments or work_notes",
                    journal.element
                )));
            }
            let id = journal
                .sys_id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("{}:{mod_count}:{}", payload.sys_id, journal.element));
            let comment = CommentContent {
                id,
                body: journal.value.clone(),
                author: author.clone(),
            };
            let kind = format!("{}.{}", payload.table, journal.element);
            parsed
                .events
                .push(event(&kind, Change::CommentCreated { comment }));
        }
        if parsed.events.is_empty() {
            parsed.ignored = Some(format!("{event_name} changed no synced field"));
        }
        Ok(parsed)
    }
}

fn content_of(table: &str, record: &Map<String, Value>) -> IssueContent {
    let text = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let inactive = record.get("active").and_then(Value::as_str) == Some("false");
    let state = text("state");
    // Other tables number their states differently, so only `active` decides when it is sent.
    let closed_state = (table == DEFAULT_TABLE || !record.contains_key("active"))
        && CLOSED_STATES.contains(&&*state);
    let closed = inactive || closed_state;
    IssueContent {
        title: text("short_description"),
        body: text("description"),
        state: if closed {
            IssueState::Closed
        } else {
            IssueState::Open
        },
        labels: Vec::new(),
    }
}

/// Parses ServiceNow's `yyyy-MM-dd HH:mm:ss` (UTC) into epoch milliseconds.
fn parse_glide_time(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let parsed = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    Some(parsed.assume_utc().unix_timestamp() * 1000)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The table of an endpoint: `options.table`, else the project.
fn table_of(endpoint: &Endpoint) -> &str {
    endpoint
        .options
        .get("table")
        .and_then(Value::as_str)
        .filter(|table| !table.is_empty())
        .unwrap_or(if endpoint.project.is_empty() {
            DEFAULT_TABLE
        } else {
            &endpoint.project
        })
}

fn option<'a>(endpoint: &'a Endpoint, name: &str, default: &'a str) -> &'a str {
    endpoint
        .options
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or(default)
}

/// The Table API path of an issue id `{table}/{sys_id}`.
fn record_path(issue: &IssueRef) -> Result<String, TargetError> {
    match issue.id.split_once('/') {
        Some((table, sys_id)) if valid_name(table) && !sys_id.is_empty() => {
            Ok(format!("/api/now/table/{table}/{sys_id}"))
        }
        _ => Err(TargetError::Refused(format!(
            "invalid ServiceNow issue id {:?}: expected table/sys_id",
            issue.id
        ))),
    }
}

fn bad_response(method: &str, path: &str, message: &str) -> TargetError {
    TargetError::BadResponse {
        tracker: TrackerKind::Servicenow,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn state_fields(endpoint: &Endpoint, state: IssueState, fields: &mut Map<String, Value>) {
    match state {
        IssueState::Closed => {
            let closed = option(
                endpoint,
                "closed_state",
                endpoint
                    .closed_status
                    .as_deref()
                    .unwrap_or(DEFAULT_CLOSED_STATE),
            );
            fields.insert("state".to_owned(), json!(closed));
            fields.insert(
                "close_code".to_owned(),
                json!(option(endpoint, "close_code", DEFAULT_CLOSE_CODE)),
            );
            fields.insert(
                "close_notes".to_owned(),
                json!(option(endpoint, "close_notes", DEFAULT_CLOSE_NOTES)),
            );
        }
        IssueState::Open => {
            let open = option(
                endpoint,
                "open_state",
                endpoint
                    .open_status
                    .as_deref()
                    .unwrap_or(DEFAULT_OPEN_STATE),
            );
            fields.insert("state".to_owned(), json!(open));
        }
    }
}

fn journal_field(api: &Api) -> &'static str {
    match api.options().get("journal_field").and_then(Value::as_str) {
        Some("comments") => "comments",
        _ => "work_notes",
    }
}

#[async_trait]
impl Target for Servicenow {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        // The Table API has no "me": look the user up by name, or by the session's own id.
        let query = match api.basic_user() {
            Some(user) => format!("user_name={user}"),
            None => "sys_id=javascript:gs.getUserID()".to_owned(),
        };
        let path = format!(
            "/api/now/table/sys_user?sysparm_query={}&sysparm_fields=sys_id,user_name,name&sysparm_limit=1",
            urlencoding::encode(&query)
        );
        let answer = api.get(&path).await?;
        let user = answer.pointer("/result/0").ok_or_else(|| {
            bad_response("GET", &path, "no sys_user record matches the proxy user")
        })?;
        let id = user
            .get("sys_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_response("GET", &path, "the sys_user record has no sys_id"))?;
        let name = user
            .get("user_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(ProxyIdentity {
            id: id.to_owned(),
            name: name.to_owned(),
        })
    }

    async fn create_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
    ) -> Result<IssueRef, TargetError> {
        let table = table_of(project);
        let path = format!("/api/now/table/{table}");
        let mut fields = Map::new();
        fields.insert("short_description".to_owned(), json!(content.title));
        fields.insert("description".to_owned(), json!(content.body));
        if content.state == IssueState::Closed {
            state_fields(project, IssueState::Closed, &mut fields);
        }
        let created = api.post(&path, &Value::Object(fields)).await?;
        let record = created.get("result").unwrap_or(&created);
        let sys_id = record
            .get("sys_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_response("POST", &path, "created record has no sys_id"))?;
        let number = record
            .get("number")
            .and_then(Value::as_str)
            .filter(|number| !number.is_empty())
            .unwrap_or(sys_id);
        Ok(IssueRef {
            key: number.to_owned(),
            id: format!("{table}/{sys_id}"),
            url: format!("{}/{table}.do?sys_id={sys_id}", api.base_url()),
        })
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        let mut fields = Map::new();
        if let Some(title) = &update.title {
            fields.insert("short_description".to_owned(), json!(title));
        }
        if let Some(body) = &update.body {
            fields.insert("description".to_owned(), json!(body));
        }
        if let Some(state) = update.state {
            state_fields(project, state, &mut fields);
        }
        // ServiceNow records have no labels; label changes are not synced to it.
        if fields.is_empty() {
            return Ok(());
        }
        api.patch(&record_path(issue)?, &Value::Object(fields))
            .await
            .map(drop)
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        let path = record_path(issue)?;
        let field = journal_field(api);
        let answer = api.patch(&path, &json!({ field: body })).await?;
        // Journal entries are not returned by the record; the modification count names this one.
        let count = answer
            .pointer("/result/sys_mod_count")
            .and_then(Value::as_str)
            .unwrap_or("0");
        let sys_id = issue.id.split_once('/').map_or("", |(_, id)| id);
        Ok(format!("{sys_id}:{count}:{field}"))
    }

    async fn update_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        _comment_id: &str,
        body: &str,
    ) -> Result<(), TargetError> {
        // Journal entries cannot be edited through the Table API: the edit becomes a new entry.
        let field = journal_field(api);
        let text = format!("(edited) {body}");
        api.patch(&record_path(issue)?, &json!({ field: text }))
            .await
            .map(drop)
    }

    async fn delete_comment(
        &self,
        _api: &Api,
        _issue: &IssueRef,
        _comment_id: &str,
    ) -> Result<(), TargetError> {
        // Journal entries are an audit trail and cannot be deleted through the Table API.
        Ok(())
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        let text = format!(
            "Linked with {} issue {} ({}). proxysync keeps the two in sync.",
            peer.tracker, peer.issue.key, peer.issue.url
        );
        api.patch(&record_path(issue)?, &json!({ "work_notes": text }))
            .await
            .map(drop)
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        issue
            .id
            .split_once('/')
            .is_some_and(|(table, _)| table == table_of(project))
    }

    fn dry_run_response(&self, method: &str, path: &str, _body: Option<&Value>) -> Value {
        match method {
            "POST" => json!({"result": {"sys_id": "(dry run)", "number": "(dry run)"}}),
            "GET" if path.contains("/sys_user") => {
                json!({"result": [{"sys_id": "(dry run)", "user_name": "(dry run)"}]})
            }
            _ => json!({"result": {"sys_mod_count": "0"}}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "snow-webhook-secret";

    fn request(body: &Value) -> InboundRequest {
        let body = body.to_string().into_bytes();
        InboundRequest {
            headers: vec![(SIGNATURE_HEADER.to_owned(), sign(SECRET, &body))],
            body,
            ..Default::default()
        }
    }

    fn payload() -> Value {
        json!({
            "table": "incident",
            "sys_id": "26d1744d47603110d737cd9bd36d436b",
            "number": "INC0010006",
            "operation": "update",
            "sys_mod_count": "3",
            "sys_updated_on": "2023-08-07 11:02:10",
            "changed_fields": ["state", "comments"],
            "record": {"short_description": "Mail down", "description": "", "state": "6", "active": "true"},
            "journal": {"element": "comments", "value": "Restarted the server", "sys_id": "0f1a"},
            "actor": {"sys_id": "6816f79cc0a8016401c5a33be04be441", "user_name": "employee"},
            "instance_url": "https://acme.service-now.com"
        })
    }

    fn endpoint(project: &str) -> Endpoint {
        Endpoint {
            instance: "snow".to_owned(),
            project: project.to_owned(),
            ..Endpoint::default()
        }
    }

    #[test]
    fn signature_round_trip() {
        let request = request(&payload());
        assert_eq!(
            Servicenow.verify(&request, &SecretString::from(SECRET)),
            Ok(())
        );
        assert_eq!(
            Servicenow.verify(&request, &SecretString::from("other")),
            Err(Rejection::BadSignature("X-Proxysync-Signature"))
        );
    }

    #[test]
    fn update_with_comment_gives_two_events() {
        let parsed = Servicenow.parse("snow", &request(&payload())).unwrap();
        assert_eq!(
            parsed.delivery_id.as_deref(),
            Some("incident/26d1744d47603110d737cd9bd36d436b/3")
        );
        assert_eq!(parsed.events.len(), 2);
        let update = &parsed.events[0];
        assert_eq!(update.project, "incident");
        assert_eq!(update.issue.key, "INC0010006");
        assert_eq!(update.issue.id, "incident/26d1744d47603110d737cd9bd36d436b");
        assert_eq!(update.author.id, "6816f79cc0a8016401c5a33be04be441");
        assert_eq!(update.at_ms, 1_691_406_130_000);
        assert!(
            matches!(update.change, Change::IssueUpdated { ref fields, .. } if fields == &[Field::State])
        );
        let Change::CommentCreated { comment } = &parsed.events[1].change else {
            panic!("expected a comment");
        };
        assert_eq!(comment.body, "Restarted the server");
    }

    #[test]
    fn inactive_record_is_closed() {
        let mut body = payload();
        body["record"]["active"] = json!("false");
        body["record"]["state"] = json!("2");
        let parsed = Servicenow.parse("snow", &request(&body)).unwrap();
        assert_eq!(parsed.events[0].content.state, IssueState::Closed);
    }

    #[test]
    fn resolved_incident_is_closed() {
        let parsed = Servicenow.parse("snow", &request(&payload())).unwrap();
        assert_eq!(parsed.events[0].content.state, IssueState::Closed);

        let mut reopened = payload();
        reopened["record"]["state"] = json!("2");
        let parsed = Servicenow.parse("snow", &request(&reopened)).unwrap();
        assert_eq!(parsed.events[0].content.state, IssueState::Open);

        // On another table, state 6 means nothing special while the record is active.
        let mut problem = payload();
        problem["table"] = json!("problem");
        let parsed = Servicenow.parse("snow", &request(&problem)).unwrap();
        assert_eq!(parsed.events[0].content.state, IssueState::Open);
    }

    #[test]
    fn missing_actor_is_malformed() {
        let mut body = payload();
        body.as_object_mut().unwrap().remove("actor");
        let error = Servicenow.parse("snow", &request(&body)).unwrap_err();
        assert!(error.to_string().contains("actor"), "{error}");
    }

    #[test]
    fn bad_time_is_malformed() {
        let mut body = payload();
        body["sys_updated_on"] = json!("yesterday");
        assert!(Servicenow.parse("snow", &request(&body)).is_err());
    }

    #[test]
    fn in_project_compares_table() {
        let issue = IssueRef {
            key: "INC0010006".to_owned(),
            id: "incident/abc".to_owned(),
            url: String::new(),
        };
        assert!(Servicenow.in_project(&endpoint("incident"), &issue));
        assert!(!Servicenow.in_project(&endpoint("problem"), &issue));
    }

    #[test]
    fn closing_writes_close_code() {
        let mut fields = Map::new();
        state_fields(&endpoint("incident"), IssueState::Closed, &mut fields);
        assert_eq!(fields["state"], "6");
        assert!(fields.contains_key("close_code"));
    }

    #[test]
    fn oauth_secret_without_access_token_named() {
        let credentials: Credentials =
            serde_json::from_value(json!({"client_id": "c", "refresh_token": "r"})).unwrap();
        let error = Servicenow.auth(&credentials).unwrap_err();
        assert!(error.contains("access_token"), "{error}");
    }
}
