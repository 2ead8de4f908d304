//! Issues: `POST /rest/api/3/issue`, and `GET` and `PUT /rest/api/3/issue/{issueIdOrKey}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::JiraCaller;
use super::error::{JiraError, json_response};
use super::events::{self, ChangeItem, IssueEvent};
use super::render::{self, Representation};
use super::{ISSUE_TYPES, WORKFLOW, adf, find_project, issue_index, parse_object};
use crate::app::App;
use crate::clock::jira_timestamp;
use crate::state::JiraIssue;

/// Fields a create request may set. Jira rejects fields that are not on the create screen.
const CREATE_FIELDS: [&str; 5] = ["project", "issuetype", "summary", "description", "labels"];

/// Maximum summary length Jira accepts, in characters.
const MAX_SUMMARY_CHARS: usize = 255;

/// `POST /rest/api/3/issue` with `fields.project`, `fields.issuetype`, `fields.summary`,
/// `fields.description` (ADF) and `fields.labels`, and optional entity `properties` as
/// `[{key, value}]`. Responds 201 `{id, key, self}` and records `jira:issue_created`. New
/// issues start in "To Do".
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = parse_object(&body)?;
    let Some(Value::Object(fields)) = request.get("fields") else {
        return Err(JiraError::message(
            StatusCode::BAD_REQUEST,
            "The request must contain a 'fields' object.",
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !CREATE_FIELDS.contains(&key.as_str()))
    {
        return Err(JiraError::unknown_field(unknown));
    }
    let project_key = match fields.get("project") {
        Some(Value::Object(project)) => {
            let key_or_id = project
                .get("key")
                .or_else(|| project.get("id"))
                .and_then(value_as_id)
                .ok_or_else(|| JiraError::field("project", "Specify a valid project ID or key"))?;
            // The sandbox reports an unknown project like an unknown issue.
            find_project(&app.config.jira, &key_or_id)
                .ok_or_else(JiraError::issue_not_found)?
                .key
        }
        _ => {
            return Err(JiraError::field(
                "project",
                "Specify a valid project ID or key",
            ));
        }
    };
    let issue_type = parse_issue_type(fields.get("issuetype"))?;
    let summary = parse_summary(fields.get("summary").unwrap_or(&Value::Null))?;
    let description = parse_description(fields.get("description").unwrap_or(&Value::Null))?;
    let labels = match fields.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => parse_labels(value)?,
    };
    let properties = parse_properties(request.get("properties"))?;

    let mut shared = app.lock();
    let time = shared.jira_clock.tick();
    let now = jira_timestamp(time);
    let id = shared.store.ids.next_jira_issue();
    let number = shared
        .store
        .jira
        .issues
        .iter()
        .filter(|issue| issue.project_key == project_key)
        .count()
        + 1;
    let key = format!("{project_key}-{number}");
    let initial = WORKFLOW[0];
    let mut items = vec![ChangeItem::text("summary", None, Some(summary.clone()))];
    if let Some(doc) = &description {
        items.push(ChangeItem::text(
            "description",
            None,
            Some(adf::to_wiki(doc)),
        ));
    }
    if !labels.is_empty() {
        items.push(ChangeItem::text("labels", None, Some(labels.join(" "))));
    }
    items.push(ChangeItem {
        field: "status",
        field_id: "status",
        from: None,
        from_string: None,
        to: Some(initial.id.to_owned()),
        to_string: Some(initial.name.to_owned()),
    });
    shared.store.jira.issues.push(JiraIssue {
        id: id.clone(),
        key: key.clone(),
        project_key,
        issue_type,
        summary,
        description,
        labels,
        status: initial.name.to_owned(),
        creator_account_id: caller.account_id.clone(),
        reporter_account_id: caller.account_id.clone(),
        created: now.clone(),
        updated: now.clone(),
        status_category_changed: now,
        resolution_date: None,
        properties,
    });
    let index = shared.store.jira.issues.len() - 1;
    let event = IssueEvent {
        webhook_event: "jira:issue_created",
        type_name: "issue_created",
        items,
        time,
    };
    events::emit_issue_event(&app, &mut shared, index, &caller, event);

    let body = json!({
        "id": id,
        "key": key,
        "self": format!("{}/rest/api/3/issue/{id}", app.urls.jira),
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `GET /rest/api/3/issue/{issueIdOrKey}`. Query parameters such as `fields` and `expand` are
/// ignored: the response always has every field the sandbox models.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
) -> Result<Response, JiraError> {
    let shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let body = render::issue(
        &app.config.jira,
        &app.urls,
        &shared.store.jira,
        &shared.store.jira.issues[index],
        Representation::RestV3,
    );
    Ok(json_response(StatusCode::OK, &body))
}

/// One operation of `update.labels`.
enum LabelOperation {
    Add(String),
    Remove(String),
    Set(Vec<String>),
}

/// The validated edits of a `PUT` request. `None` leaves a field unchanged.
#[derive(Default)]
struct IssueEdit {
    summary: Option<String>,
    description: Option<Option<Value>>,
    labels: Option<Vec<String>>,
    label_operations: Vec<LabelOperation>,
}

impl IssueEdit {
    fn parse(request: &Map<String, Value>) -> Result<Self, JiraError> {
        let mut edit = IssueEdit::default();
        let fields = optional_object(request, "fields")?;
        let update = optional_object(request, "update")?;
        for (name, value) in fields.into_iter().flatten() {
            match name.as_str() {
                "summary" => edit.summary = Some(parse_summary(value)?),
                "description" => edit.description = Some(parse_description(value)?),
                "labels" => edit.labels = Some(parse_labels(value)?),
                other => return Err(JiraError::unknown_field(other)),
            }
        }
        for (name, operations) in update.into_iter().flatten() {
            if fields.is_some_and(|fields| fields.contains_key(name)) {
                return Err(JiraError::field(
                    name,
                    format!("Field '{name}' cannot be set in both 'fields' and 'update'."),
                ));
            }
            let Value::Array(operations) = operations else {
                return Err(JiraError::field(name, "Operations must be an array."));
            };
            for operation in operations {
                edit.add_operation(name, operation)?;
            }
        }
        Ok(edit)
    }

    /// Applies one `update` operation object, such as `{"add": "triaged"}`.
    fn add_operation(&mut self, field: &str, operation: &Value) -> Result<(), JiraError> {
        let Some((verb, value)) = operation
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next())
        else {
            return Err(JiraError::field(
                field,
                "Each operation must be an object with exactly one verb.",
            ));
        };
        match (field, verb.as_str()) {
            ("summary", "set") => self.summary = Some(parse_summary(value)?),
            ("description", "set") => self.description = Some(parse_description(value)?),
            ("labels", "add") => self
                .label_operations
                .push(LabelOperation::Add(parse_label(value)?)),
            ("labels", "remove") => self
                .label_operations
                .push(LabelOperation::Remove(parse_label(value)?)),
            ("labels", "set") => self
                .label_operations
                .push(LabelOperation::Set(parse_labels(value)?)),
            ("summary" | "description" | "labels", _) => {
                return Err(JiraError::field(
                    field,
                    format!("Operation '{verb}' is not supported for field '{field}'."),
                ));
            }
            _ => return Err(JiraError::unknown_field(field)),
        }
        Ok(())
    }

    fn resolve_labels(&self, current: &[String]) -> Vec<String> {
        let mut labels = self.labels.clone().unwrap_or_else(|| current.to_vec());
        for operation in &self.label_operations {
            match operation {
                LabelOperation::Add(label) => {
                    if !labels.contains(label) {
                        labels.push(label.clone());
                    }
                }
                LabelOperation::Remove(label) => labels.retain(|l| l != label),
                LabelOperation::Set(all) => labels = all.clone(),
            }
        }
        labels
    }
}

/// `PUT /rest/api/3/issue/{issueIdOrKey}` with `fields` (summary, description, labels) and/or
/// `update` (`summary`/`description` `set`, `labels` `add`/`remove`/`set`). Answers 204 and
/// records `jira:issue_updated` with a changelog when a value changed.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let edit = IssueEdit::parse(&parse_object(&body)?)?;
    let mut shared = app.lock();
    let index = issue_index(&shared.store.jira, &issue)?;
    let current = shared.store.jira.issues[index].clone();

    let summary = edit
        .summary
        .clone()
        .unwrap_or_else(|| current.summary.clone());
    let description = edit
        .description
        .clone()
        .unwrap_or_else(|| current.description.clone());
    let labels = edit.resolve_labels(&current.labels);

    let mut items = Vec::new();
    if summary != current.summary {
        items.push(ChangeItem::text(
            "summary",
            Some(current.summary.clone()),
            Some(summary.clone()),
        ));
    }
    if description != current.description {
        items.push(ChangeItem::text(
            "description",
            current.description.as_ref().map(adf::to_wiki),
            description.as_ref().map(adf::to_wiki),
        ));
    }
    if labels != current.labels {
        items.push(ChangeItem::text(
            "labels",
            Some(current.labels.join(" ")),
            Some(labels.join(" ")),
        ));
    }

    if !items.is_empty() {
        let time = shared.jira_clock.tick();
        let stored = &mut shared.store.jira.issues[index];
        stored.summary = summary;
        stored.description = description;
        stored.labels = labels;
        stored.updated = jira_timestamp(time);
        let event = IssueEvent {
            webhook_event: "jira:issue_updated",
            type_name: "issue_updated",
            items,
            time,
        };
        events::emit_issue_event(&app, &mut shared, index, &caller, event);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads `request[name]`, which must be an object when present.
fn optional_object<'a>(
    request: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, JiraError> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(JiraError::invalid_body(format!(
            "'{name}' must be an object"
        ))),
    }
}

/// Reads an id or key that may be given as a string or a number.
fn value_as_id(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn parse_issue_type(value: Option<&Value>) -> Result<String, JiraError> {
    let Some(Value::Object(issue_type)) = value else {
        return Err(JiraError::field("issuetype", "Specify an issue type"));
    };
    let by_id = issue_type.get("id").and_then(value_as_id);
    let by_name = issue_type.get("name").and_then(Value::as_str);
    ISSUE_TYPES
        .iter()
        .find(|(id, name)| {
            by_id.as_deref() == Some(*id) || by_name.is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|(_, name)| (*name).to_owned())
        .ok_or_else(|| JiraError::field("issuetype", "Specify a valid issue type"))
}

fn parse_summary(value: &Value) -> Result<String, JiraError> {
    let summary = match value {
        Value::Null => "",
        Value::String(text) => text.as_str(),
        _ => {
            return Err(JiraError::field(
                "summary",
                "Operation value must be a string",
            ));
        }
    };
    if summary.trim().is_empty() {
        return Err(JiraError::field(
            "summary",
            "You must specify a summary of the issue.",
        ));
    }
    if summary.contains(['\n', '\r']) {
        return Err(JiraError::field(
            "summary",
            "The summary is invalid because it contains newline characters.",
        ));
    }
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        return Err(JiraError::field(
            "summary",
            "Summary must be less than 255 characters.",
        ));
    }
    Ok(summary.to_owned())
}

fn parse_description(value: &Value) -> Result<Option<Value>, JiraError> {
    match value {
        Value::Null => Ok(None),
        doc if adf::is_document(doc) => Ok(Some(doc.clone())),
        _ => Err(JiraError::field(
            "description",
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        )),
    }
}

fn parse_labels(value: &Value) -> Result<Vec<String>, JiraError> {
    let Value::Array(items) = value else {
        return Err(JiraError::field(
            "labels",
            "Labels must be an array of strings.",
        ));
    };
    let mut labels: Vec<String> = Vec::new();
    for item in items {
        let label = parse_label(item)?;
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    Ok(labels)
}

/// Reads one label. Jira labels are non-empty, at most 255 characters and contain no
/// whitespace.
fn parse_label(value: &Value) -> Result<String, JiraError> {
    let Value::String(label) = value else {
        return Err(JiraError::field("labels", "Labels must be strings."));
    };
    if label.is_empty() {
        return Err(JiraError::field("labels", "Labels must not be empty."));
    }
    if label.chars().any(char::is_whitespace) {
        return Err(JiraError::field(
            "labels",
            format!("The label '{label}' contains spaces which is invalid."),
        ));
    }
    if label.chars().count() > 255 {
        return Err(JiraError::field(
            "labels",
            "The label must not be longer than 255 characters.",
        ));
    }
    Ok(label.clone())
}

/// Parses the `properties` of a create request: a list of `{key, value}` objects.
fn parse_properties(value: Option<&Value>) -> Result<BTreeMap<String, Value>, JiraError> {
    let mut properties = BTreeMap::new();
    let entries = match value {
        None | Some(Value::Null) => return Ok(properties),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(JiraError::field(
                "properties",
                "Expected a list of properties.",
            ));
        }
    };
    for entry in entries {
        let key = entry
            .get("key")
            .and_then(Value::as_str)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| JiraError::field("properties", "Each property needs a key."))?;
        let value = entry.get("value").cloned().unwrap_or(Value::Null);
        properties.insert(key.to_owned(), value);
    }
    Ok(properties)
}
