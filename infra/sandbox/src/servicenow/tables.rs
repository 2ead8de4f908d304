//! The Table API: list, read, create and update records of any table, plus the read-only
//! `sys_user` and `sys_journal_field` tables.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::{
    ServicenowJournal, ServicenowRecord, SnCaller, SnError, SnStore, glide_time, json_response,
    new_sys_id,
};
use crate::app::App;
use crate::webhooks::{RecordedWebhook, Tracker};

/// Tables whose rows the sandbox derives from its configuration and journal.
const READ_ONLY: [&str; 2] = ["sys_user", "sys_journal_field"];
const JOURNAL_FIELDS: [&str; 2] = ["comments", "work_notes"];
/// Fields the Table API manages itself.
const SYSTEM_FIELDS: [&str; 7] = [
    "sys_id",
    "number",
    "sys_mod_count",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
];

fn valid_table(table: &str) -> bool {
    !table.is_empty() && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn record_json(app: &App, record: &ServicenowRecord) -> Value {
    let mut fields = record.fields.clone();
    fields.insert(
        "sys_class_name".to_owned(),
        Value::String(record.table.clone()),
    );
    if let Some(Value::String(user)) = record.fields.get("opened_by") {
        fields.insert(
            "opened_by".to_owned(),
            json!({"link": format!("{}/api/now/table/sys_user/{user}", base_url(app)), "value": user}),
        );
    }
    Value::Object(fields)
}

pub(crate) fn base_url(app: &App) -> String {
    app.urls.servicenow.clone()
}

/// Splits an encoded query `a=1^b=2` into its equality terms; other operators are ignored.
fn terms(query: &str) -> Vec<(String, String)> {
    query
        .split('^')
        .filter_map(|term| term.split_once('='))
        .map(|(field, value)| (field.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// `GET /api/now/table/{table}`: records matching the equality terms of `sysparm_query`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Extension(SnCaller(caller)): Extension<SnCaller>,
    Path(table): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = terms(params.get("sysparm_query").map_or("", String::as_str));
    let limit = params
        .get("sysparm_limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .unwrap_or(10_000);
    let matches = |row: &Map<String, Value>| {
        query.iter().all(|(field, value)| {
            let value = if value == "javascript:gs.getUserID()" {
                caller.sys_id.as_str()
            } else {
                value.as_str()
            };
            row.get(field).and_then(Value::as_str) == Some(value)
        })
    };

    let rows: Vec<Map<String, Value>> = match table.as_str() {
        "sys_user" => app
            .config
            .servicenow
            .users
            .iter()
            .map(|user| {
                let mut row = Map::new();
                row.insert("sys_id".to_owned(), json!(user.sys_id));
                row.insert("user_name".to_owned(), json!(user.user_name));
                row.insert("name".to_owned(), json!(user.name));
                row.insert("active".to_owned(), json!("true"));
                row
            })
            .collect(),
        "sys_journal_field" => app
            .lock()
            .servicenow
            .journal
            .iter()
            .map(|entry| match serde_json::to_value(entry) {
                Ok(Value::Object(row)) => row,
                _ => Map::new(),
            })
            .collect(),
        _ if valid_table(&table) => {
            let shared = app.lock();
            shared
                .servicenow
                .records
                .iter()
                .filter(|record| record.table == table)
                .map(|record| match record_json(&app, record) {
                    Value::Object(row) => row,
                    _ => Map::new(),
                })
                .collect()
        }
        _ => return invalid_table(&table),
    };
    let found: Vec<Value> = rows
        .into_iter()
        .filter(|row| matches(row))
        .take(limit)
        .map(Value::Object)
        .collect();
    let total = found.len();
    let mut response = json_response(StatusCode::OK, &json!({ "result": found }));
    if let Ok(value) = HeaderValue::from_str(&total.to_string()) {
        response.headers_mut().insert("x-total-count", value);
    }
    response
}

fn invalid_table(table: &str) -> Response {
    SnError::new(
        StatusCode::BAD_REQUEST,
        "Invalid table",
        &format!("Invalid table {table}"),
    )
    .into_response()
}

fn not_found(table: &str, sys_id: &str) -> Response {
    SnError::new(
        StatusCode::NOT_FOUND,
        "No Record found",
        &format!("Record doesn't exist or ACL restricts the record retrieval: {table}/{sys_id}"),
    )
    .into_response()
}

/// `GET /api/now/table/{table}/{sys_id}`.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path((table, sys_id)): Path<(String, String)>,
) -> Response {
    let shared = app.lock();
    match shared
        .servicenow
        .records
        .iter()
        .find(|r| r.table == table && r.sys_id == sys_id)
    {
        Some(record) => json_response(
            StatusCode::OK,
            &json!({"result": record_json(&app, record)}),
        ),
        None => not_found(&table, &sys_id),
    }
}

fn parse_fields(body: &Bytes) -> Result<Map<String, Value>, SnError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(SnError::new(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            "The payload is not valid JSON.",
        )),
    }
}

/// A field value as the Table API stores it: strings as they are, anything else as JSON text.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number_prefix(table: &str) -> &'static str {
    match table {
        "incident" => "INC",
        "problem" => "PRB",
        "change_request" => "CHG",
        _ => "TASK",
    }
}

/// `POST /api/now/table/{table}`: creates a record; 201 with `Location`.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(SnCaller(caller)): Extension<SnCaller>,
    Path(table): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_table(&table) {
        return invalid_table(&table);
    }
    if READ_ONLY.contains(&table.as_str()) {
        return SnError::new(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            "The sandbox serves this table read-only",
        )
        .into_response();
    }
    let input = match parse_fields(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };

    let mut shared = app.lock();
    let shared = &mut *shared;
    let store = &mut shared.servicenow;
    let now = glide_time(store.tick());
    store.numbers += 1;
    let sys_id = new_sys_id();
    let mut fields = Map::new();
    fields.insert("sys_id".to_owned(), json!(sys_id));
    fields.insert(
        "number".to_owned(),
        json!(format!(
            "{}{:07}",
            number_prefix(&table),
            10_000 + store.numbers
        )),
    );
    fields.insert("state".to_owned(), json!("1"));
    fields.insert("active".to_owned(), json!("true"));
    fields.insert("short_description".to_owned(), json!(""));
    fields.insert("description".to_owned(), json!(""));
    fields.insert("opened_by".to_owned(), json!(caller.sys_id));
    fields.insert("sys_mod_count".to_owned(), json!("0"));
    fields.insert("sys_created_on".to_owned(), json!(now));
    fields.insert("sys_created_by".to_owned(), json!(caller.user_name));
    fields.insert("sys_updated_on".to_owned(), json!(now));
    fields.insert("sys_updated_by".to_owned(), json!(caller.user_name));
    let mut changed = Vec::new();
    let mut journal = Vec::new();
    for (name, value) in &input {
        if JOURNAL_FIELDS.contains(&name.as_str()) {
            journal.push((name.clone(), as_text(value)));
        } else if !SYSTEM_FIELDS.contains(&name.as_str()) {
            fields.insert(name.clone(), json!(as_text(value)));
            changed.push(name.clone());
        }
    }
    apply_active(&table, &mut fields);
    let record = ServicenowRecord {
        table: table.clone(),
        sys_id: sys_id.clone(),
        fields,
    };
    store.records.push(record);
    let index = store.records.len() - 1;
    let entries = add_journal(store, index, &journal, &caller.user_name, &now);
    changed.extend(journal.iter().map(|(name, _)| name.clone()));

    let webhook = business_rule_webhook(&app, store, index, "insert", &changed, &entries, &caller);
    shared.emit(webhook);
    let record = &shared.servicenow.records[index];
    let mut response = json_response(
        StatusCode::CREATED,
        &json!({"result": record_json(&app, record)}),
    );
    let location = format!("{}/api/now/table/{table}/{sys_id}", base_url(&app));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `PATCH` or `PUT /api/now/table/{table}/{sys_id}`: changes fields and adds journal entries.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(SnCaller(caller)): Extension<SnCaller>,
    Path((table, sys_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let input = match parse_fields(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let mut shared = app.lock();
    let shared = &mut *shared;
    let store = &mut shared.servicenow;
    let Some(index) = store
        .records
        .iter()
        .position(|r| r.table == table && r.sys_id == sys_id)
    else {
        return not_found(&table, &sys_id);
    };
    let now = glide_time(store.tick());
    let mut changed = Vec::new();
    let mut journal = Vec::new();
    {
        let fields = &mut store.records[index].fields;
        for (name, value) in &input {
            if JOURNAL_FIELDS.contains(&name.as_str()) {
                if !as_text(value).trim().is_empty() {
                    journal.push((name.clone(), as_text(value)));
                }
                continue;
            }
            if SYSTEM_FIELDS.contains(&name.as_str()) {
                continue;
            }
            let text = as_text(value);
            if fields.get(name).and_then(Value::as_str) != Some(text.as_str()) {
                fields.insert(name.clone(), json!(text));
                changed.push(name.clone());
            }
        }
        let before = fields.get("active").cloned();
        apply_active(&table, fields);
        if fields.get("active") != before.as_ref() {
            changed.push("active".to_owned());
        }
        let count = fields
            .get("sys_mod_count")
            .and_then(Value::as_str)
            .and_then(|count| count.parse::<u64>().ok())
            .unwrap_or(0);
        fields.insert("sys_mod_count".to_owned(), json!((count + 1).to_string()));
        fields.insert("sys_updated_on".to_owned(), json!(now));
        fields.insert("sys_updated_by".to_owned(), json!(caller.user_name));
    }
    let entries = add_journal(store, index, &journal, &caller.user_name, &now);
    changed.extend(journal.iter().map(|(name, _)| name.clone()));

    let webhook = business_rule_webhook(&app, store, index, "update", &changed, &entries, &caller);
    shared.emit(webhook);
    let record = &shared.servicenow.records[index];
    json_response(
        StatusCode::OK,
        &json!({"result": record_json(&app, record)}),
    )
}

/// Incidents in Closed (7) or Canceled (8) are no longer active.
fn apply_active(table: &str, fields: &mut Map<String, Value>) {
    if table != "incident" {
        return;
    }
    let state = fields.get("state").and_then(Value::as_str).unwrap_or("1");
    let active = if matches!(state, "7" | "8") {
        "false"
    } else {
        "true"
    };
    fields.insert("active".to_owned(), json!(active));
}

fn add_journal(
    store: &mut SnStore,
    index: usize,
    entries: &[(String, String)],
    user_name: &str,
    now: &str,
) -> Vec<ServicenowJournal> {
    let record = &store.records[index];
    let added: Vec<ServicenowJournal> = entries
        .iter()
        .map(|(element, value)| ServicenowJournal {
            sys_id: new_sys_id(),
            element: element.clone(),
            element_id: record.sys_id.clone(),
            name: record.table.clone(),
            value: value.clone(),
            sys_created_by: user_name.to_owned(),
            sys_created_on: now.to_owned(),
        })
        .collect();
    store.journal.extend(added.iter().cloned());
    added
}

/// The webhook that proxysync's business rule posts after an insert or an update.
fn business_rule_webhook(
    app: &App,
    store: &SnStore,
    index: usize,
    operation: &str,
    changed: &[String],
    entries: &[ServicenowJournal],
    caller: &crate::servicenow::ServicenowUser,
) -> RecordedWebhook {
    let record = &store.records[index];
    let config = &app.config.servicenow;
    // Like the shipped script: the customer-visible comment first, work notes only when enabled.
    let journal = entries
        .iter()
        .find(|entry| entry.element == "comments")
        .or_else(|| {
            entries
                .iter()
                .find(|entry| config.send_work_notes && entry.element == "work_notes")
        })
        .map(
            |entry| json!({"element": entry.element, "value": entry.value, "sys_id": entry.sys_id}),
        );
    let mut snapshot = Map::new();
    for name in ["short_description", "description", "state", "active"] {
        snapshot.insert(name.to_owned(), json!(record.field(name)));
    }
    let payload = json!({
        "table": record.table,
        "sys_id": record.sys_id,
        "number": record.field("number"),
        "operation": operation,
        "sys_mod_count": record.field("sys_mod_count"),
        "sys_updated_on": record.field("sys_updated_on"),
        "changed_fields": changed,
        "record": snapshot,
        "journal": journal,
        "actor": {"sys_id": caller.sys_id, "user_name": caller.user_name},
        "instance_url": base_url(app),
    });
    let body = payload.to_string().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(config.webhook_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(&body);
    let signature = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    RecordedWebhook {
        tracker: Tracker::Servicenow.as_str().to_owned(),
        headers: vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "X-Proxysync-Signature".to_owned(),
                format!("sha256={signature}"),
            ),
            ("User-Agent".to_owned(), "ServiceNow/1.0".to_owned()),
        ],
        body,
    }
}
