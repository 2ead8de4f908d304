//! Request handlers of the fake Jira Data Center REST API v2.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::events::{self, ChangeItem};
use super::{JiraDcCaller, JiraDcComment, JiraDcIssue, JiraDcRemoteLink, render};
use crate::app::{App, Shared};
use crate::clock::jira_timestamp;
use crate::jira::error::{JiraError, json_response};
use crate::jira::operations;
use crate::jira::{WORKFLOW, parse_object};

/// Project permissions that `mypermissions` reports, with their display names.
const PERMISSIONS: [(&str, &str); 16] = [
    ("BROWSE_PROJECTS", "Browse Projects"),
    ("CREATE_ISSUES", "Create Issues"),
    ("EDIT_ISSUES", "Edit Issues"),
    ("LINK_ISSUES", "Link Issues"),
    ("TRANSITION_ISSUES", "Transition Issues"),
    ("ADD_COMMENTS", "Add Comments"),
    ("EDIT_OWN_COMMENTS", "Edit Own Comments"),
    ("DELETE_OWN_COMMENTS", "Delete Own Comments"),
    ("CREATE_ATTACHMENTS", "Create Attachments"),
    ("DELETE_OWN_ATTACHMENTS", "Delete Own Attachments"),
    ("WORK_ON_ISSUES", "Work On Issues"),
    ("EDIT_OWN_WORKLOGS", "Edit Own Worklogs"),
    ("DELETE_OWN_WORKLOGS", "Delete Own Worklogs"),
    ("SET_ISSUE_SECURITY", "Set Issue Security"),
    ("SERVICEDESK_AGENT", "Service Desk Agent"),
    ("ADMINISTER_PROJECTS", "Administer Projects"),
];

pub(crate) async fn not_found() -> Response {
    JiraError::message(
        StatusCode::NOT_FOUND,
        "No resource matches the request path in the sandbox.",
    )
    .into_response()
}

/// `GET /rest/api/2/myself`.
pub(crate) async fn myself(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(user)): Extension<JiraDcCaller>,
) -> Response {
    let mut body = render::user(&app.urls, &user);
    body["timeZone"] = json!(app.lock().jira_dc.time_zone(&user));
    body["locale"] = json!("en_US");
    body["groups"] = json!({"size": 1, "items": []});
    json_response(StatusCode::OK, &body)
}

/// `GET /rest/api/2/mypermissions?projectKey=KEY&permissions=A,B`: every listed permission (all
/// known ones without the parameter) with `havePermission` false for the caller's
/// `missing_permissions` and the permissions taken with `Sandbox::deny_jira_dc_permission`.
pub(crate) async fn my_permissions(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(user)): Extension<JiraDcCaller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, JiraError> {
    if let Some(project) = query.get("projectKey")
        && !app.config.jira_dc.project_exists(project)
    {
        return Err(JiraError::message(
            StatusCode::NOT_FOUND,
            format!("No project could be found with key '{project}'."),
        ));
    }
    let requested: Vec<&str> = match query.get("permissions") {
        Some(list) => list.split(',').map(str::trim).collect(),
        None => PERMISSIONS.iter().map(|(key, _)| *key).collect(),
    };
    let shared = app.lock();
    let mut permissions = Map::new();
    for key in requested {
        let Some((key, name)) = PERMISSIONS.iter().find(|(known, _)| *known == key) else {
            return Err(JiraError::message(
                StatusCode::BAD_REQUEST,
                format!("Permission '{key}' does not exist."),
            ));
        };
        let granted = shared.jira_dc.has_permission(&user, key);
        permissions.insert(
            (*key).to_owned(),
            json!({"key": key, "name": name, "type": "PROJECT", "havePermission": granted}),
        );
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"permissions": permissions}),
    ))
}

/// `GET /rest/api/2/search?jql=...&startAt=0&maxResults=50`: the issues that match the JQL
/// subset of the Jira Cloud search, with absolute dates read in the caller's time zone.
/// Returns `{expand, startAt, maxResults, total, issues}`; `maxResults` is at most 1000, as
/// Jira's default limit, and `fields` and `expand` are ignored, so every field is returned. As
/// on Jira, a project that the caller may not browse gets 400 like an unknown one, and
/// without a project condition only browsable projects are searched.
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(user)): Extension<JiraDcCaller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, JiraError> {
    let jql = params.get("jql").ok_or_else(|| {
        JiraError::message(StatusCode::BAD_REQUEST, "The jql parameter is required.")
    })?;
    let zone_name = app.lock().jira_dc.time_zone(&user).to_owned();
    let zone = jiff::tz::TimeZone::get(&zone_name).map_err(|error| {
        JiraError::message(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The sandbox user's time zone '{zone_name}' is unknown: {error}"),
        )
    })?;
    let query = operations::parse_jql(jql, time::OffsetDateTime::now_utc(), &zone)?;
    // The Data Center search models only the project, `updated` and its order.
    if query.created_since.is_some() || query.created_by_caller || query.by_created {
        return Err(JiraError::message(
            StatusCode::BAD_REQUEST,
            format!("The sandbox does not support the JQL query '{jql}' on Jira Data Center."),
        ));
    }
    let number = |name: &str, default: usize| -> Result<usize, JiraError> {
        match params.get(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| {
                JiraError::message(
                    StatusCode::BAD_REQUEST,
                    format!("The value '{value}' of {name} is not a number."),
                )
            }),
        }
    };
    let start_at = number("startAt", 0)?;
    let max_results = number("maxResults", 50)?.min(1000);

    let shared = app.lock();
    let browsable = |key: &str| {
        app.config.jira_dc.project_exists(key)
            && shared.jira_dc.has_permission(&user, "BROWSE_PROJECTS")
    };
    if let Some(projects) = &query.projects
        && let Some(hidden) = projects.iter().find(|key| !browsable(key))
    {
        return Err(JiraError::message(
            StatusCode::BAD_REQUEST,
            format!("The value '{hidden}' does not exist for the field 'project'."),
        ));
    }
    let mut found: Vec<&JiraDcIssue> = shared
        .jira_dc
        .state
        .issues
        .iter()
        .filter(|issue| browsable(&issue.project_key))
        .filter(|issue| {
            query.projects.as_ref().is_none_or(|projects| {
                projects
                    .iter()
                    .any(|key| key.eq_ignore_ascii_case(&issue.project_key))
            })
        })
        .filter(
            |issue| match (query.updated_since, operations::stored_time(&issue.updated)) {
                (Some(since), Some(updated)) => updated >= since,
                _ => true,
            },
        )
        .collect();
    found.sort_by(|a, b| a.updated.cmp(&b.updated));
    if query.descending {
        found.reverse();
    }
    let total = found.len();
    let issues: Vec<Value> = found
        .into_iter()
        .skip(start_at)
        .take(max_results)
        .map(|issue| render::issue(&app.config.jira_dc, &app.urls, issue))
        .collect();
    let body = json!({
        "expand": "schema,names",
        "startAt": start_at,
        "maxResults": max_results,
        "total": total,
        "issues": issues,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /rest/api/2/project/{key}`.
pub(crate) async fn project(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
) -> Result<Response, JiraError> {
    let config = &app.config.jira_dc;
    let known = config
        .projects
        .iter()
        .chain(&config.service_desk_projects)
        .find(|known| known.eq_ignore_ascii_case(&key))
        .ok_or_else(|| {
            JiraError::message(
                StatusCode::NOT_FOUND,
                format!("No project could be found with key '{key}'."),
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        &render::project(config, &app.urls, known),
    ))
}

fn issue_index(shared: &Shared, key_or_id: &str) -> Result<usize, JiraError> {
    shared
        .jira_dc
        .state
        .issues
        .iter()
        .position(|issue| issue.key.eq_ignore_ascii_case(key_or_id) || issue.id == key_or_id)
        .ok_or_else(JiraError::issue_not_found)
}

fn optional_text(value: Option<&Value>, field: &str) -> Result<Option<String>, JiraError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(JiraError::field(field, "Operation value must be a string")),
    }
}

fn labels_of(value: Option<&Value>) -> Result<Vec<String>, JiraError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item.as_str() {
                Some(label) if !label.contains(' ') => Ok(label.to_owned()),
                _ => Err(JiraError::field(
                    "labels",
                    "The label must not contain spaces.",
                )),
            })
            .collect(),
        Some(_) => Err(JiraError::field("labels", "expected an array of labels")),
    }
}

/// `POST /rest/api/2/issue`: responds 201 `{id, key, self}` and records `jira:issue_created`.
pub(crate) async fn create_issue(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(caller)): Extension<JiraDcCaller>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = Value::Object(parse_object(&body)?);
    let fields = request
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| JiraError::invalid_body("the request needs a fields object"))?;
    let project = fields
        .get("project")
        .and_then(|project| project.get("key"))
        .and_then(Value::as_str)
        .filter(|key| app.config.jira_dc.project_exists(key))
        .ok_or_else(|| JiraError::field("project", "project is required"))?
        .to_ascii_uppercase();
    let summary = fields
        .get("summary")
        .and_then(Value::as_str)
        .filter(|summary| !summary.trim().is_empty())
        .ok_or_else(|| JiraError::field("summary", "You must specify a summary of the issue."))?
        .to_owned();
    let issue_type = fields
        .get("issuetype")
        .and_then(|issue_type| issue_type.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("Task")
        .to_owned();
    let description = optional_text(fields.get("description"), "description")?;
    let labels = labels_of(fields.get("labels"))?;

    let mut shared = app.lock();
    let time = shared.jira_dc.clock.tick();
    let now = jira_timestamp(time);
    let id = shared.jira_dc.next_id().to_string();
    let number = shared
        .jira_dc
        .state
        .issues
        .iter()
        .filter(|issue| issue.project_key == project)
        .count()
        + 1;
    let key = format!("{project}-{number}");
    let mut items = vec![ChangeItem {
        field: "summary",
        from_string: None,
        to_string: Some(summary.clone()),
    }];
    if let Some(text) = &description {
        items.push(ChangeItem {
            field: "description",
            from_string: None,
            to_string: Some(text.clone()),
        });
    }
    shared.jira_dc.state.issues.push(JiraDcIssue {
        id: id.clone(),
        key: key.clone(),
        project_key: project,
        issue_type,
        summary,
        description,
        labels,
        status: WORKFLOW[0].name.to_owned(),
        creator_key: caller.key.clone(),
        created: now.clone(),
        updated: now,
    });
    let index = shared.jira_dc.state.issues.len() - 1;
    events::emit_issue_event(
        &app,
        &mut shared,
        index,
        &caller,
        "jira:issue_created",
        items,
        time,
    );
    let body = json!({
        "id": id,
        "key": key,
        "self": format!("{}/rest/api/2/issue/{id}", app.urls.jira_dc),
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `GET /rest/api/2/issue/{key}`; the `fields` parameter is ignored.
pub(crate) async fn get_issue(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
) -> Result<Response, JiraError> {
    let shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let body = render::issue(
        &app.config.jira_dc,
        &app.urls,
        &shared.jira_dc.state.issues[index],
    );
    Ok(json_response(StatusCode::OK, &body))
}

/// `PUT /rest/api/2/issue/{key}` with `fields` (summary, description, labels) and
/// `update.labels` operations. Responds 204 and records `jira:issue_updated` when a field
/// changed.
pub(crate) async fn update_issue(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(caller)): Extension<JiraDcCaller>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = Value::Object(parse_object(&body)?);
    let empty = Map::new();
    let fields = request
        .get("fields")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(unknown) = fields
        .keys()
        .find(|key| !["summary", "description", "labels"].contains(&key.as_str()))
    {
        return Err(JiraError::unknown_field(unknown));
    }
    let mut shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let before = shared.jira_dc.state.issues[index].clone();
    let mut after = before.clone();
    if let Some(summary) = fields.get("summary") {
        after.summary = summary
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| JiraError::field("summary", "You must specify a summary of the issue."))?
            .to_owned();
    }
    if fields.contains_key("description") {
        after.description = optional_text(fields.get("description"), "description")?;
    }
    if fields.contains_key("labels") {
        after.labels = labels_of(fields.get("labels"))?;
    }
    let operations = request
        .pointer("/update/labels")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for operation in operations {
        if let Some(label) = operation.get("add").and_then(Value::as_str) {
            if !after.labels.iter().any(|l| l == label) {
                after.labels.push(label.to_owned());
            }
        } else if let Some(label) = operation.get("remove").and_then(Value::as_str) {
            after.labels.retain(|l| l != label);
        }
    }

    let mut items = Vec::new();
    if after.summary != before.summary {
        items.push(ChangeItem {
            field: "summary",
            from_string: Some(before.summary.clone()),
            to_string: Some(after.summary.clone()),
        });
    }
    if after.description != before.description {
        items.push(ChangeItem {
            field: "description",
            from_string: before.description.clone(),
            to_string: after.description.clone(),
        });
    }
    if after.labels != before.labels {
        items.push(ChangeItem {
            field: "labels",
            from_string: Some(before.labels.join(" ")),
            to_string: Some(after.labels.join(" ")),
        });
    }
    if !items.is_empty() {
        let time = shared.jira_dc.clock.tick();
        after.updated = jira_timestamp(time);
        shared.jira_dc.state.issues[index] = after;
        events::emit_issue_event(
            &app,
            &mut shared,
            index,
            &caller,
            "jira:issue_updated",
            items,
            time,
        );
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /rest/api/2/issue/{key}/transitions`: one transition to each other status.
pub(crate) async fn transitions(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
) -> Result<Response, JiraError> {
    let shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let current = shared.jira_dc.state.issues[index].status.clone();
    let list: Vec<Value> = WORKFLOW
        .iter()
        .filter(|status| status.name != current)
        .map(|status| {
            json!({
                "id": status.transition_id,
                "name": status.name,
                "to": {"name": status.name, "id": status.id,
                       "statusCategory": {"key": status.category_key}},
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"expand": "transitions", "transitions": list}),
    ))
}

/// `POST /rest/api/2/issue/{key}/transitions` with `{"transition": {"id": "31"}}`: responds 204
/// and records `jira:issue_updated` with a `status` changelog item.
pub(crate) async fn transition(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(caller)): Extension<JiraDcCaller>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = Value::Object(parse_object(&body)?);
    let id = match request.pointer("/transition/id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err(JiraError::invalid_body("transition.id is required")),
    };
    let mut shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let current = shared.jira_dc.state.issues[index].status.clone();
    let target = WORKFLOW
        .iter()
        .find(|status| status.transition_id == id && status.name != current)
        .ok_or_else(|| {
            JiraError::message(
                StatusCode::BAD_REQUEST,
                format!("Transition id '{id}' is not valid for this issue."),
            )
        })?;
    let time = shared.jira_dc.clock.tick();
    let stored = &mut shared.jira_dc.state.issues[index];
    stored.status = target.name.to_owned();
    stored.updated = jira_timestamp(time);
    let items = vec![ChangeItem {
        field: "status",
        from_string: Some(current),
        to_string: Some(target.name.to_owned()),
    }];
    events::emit_issue_event(
        &app,
        &mut shared,
        index,
        &caller,
        "jira:issue_updated",
        items,
        time,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn comment_body(body: &Bytes) -> Result<String, JiraError> {
    let request = Value::Object(parse_object(body)?);
    request
        .get("body")
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| JiraError::field("comment", "Comment body can not be empty!"))
}

/// `POST /rest/api/2/issue/{key}/comment` with `{"body": "wiki text"}`: responds 201 with the
/// comment and records the comment webhooks.
pub(crate) async fn add_comment(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(caller)): Extension<JiraDcCaller>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let text = comment_body(&body)?;
    let mut shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let time = shared.jira_dc.clock.tick();
    let now = jira_timestamp(time);
    let comment = JiraDcComment {
        id: shared.jira_dc.next_id().to_string(),
        issue_id: shared.jira_dc.state.issues[index].id.clone(),
        body: text,
        author_key: caller.key.clone(),
        update_author_key: caller.key.clone(),
        created: now.clone(),
        updated: now.clone(),
    };
    shared.jira_dc.state.issues[index].updated = now;
    shared.jira_dc.state.comments.push(comment.clone());
    events::emit_comment_events(&app, &mut shared, index, &caller, &comment, "created", time);
    let body = render::comment(&app.config.jira_dc, &app.urls, &comment);
    Ok(json_response(StatusCode::CREATED, &body))
}

fn comment_index(shared: &Shared, issue_id: &str, comment_id: &str) -> Result<usize, JiraError> {
    shared
        .jira_dc
        .state
        .comments
        .iter()
        .position(|c| c.id == comment_id && c.issue_id == issue_id)
        .ok_or_else(|| {
            JiraError::message(
                StatusCode::NOT_FOUND,
                format!("Can not find a comment for the id: {comment_id}."),
            )
        })
}

/// `PUT /rest/api/2/issue/{key}/comment/{id}` with `{"body": "wiki text"}`.
pub(crate) async fn update_comment(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(caller)): Extension<JiraDcCaller>,
    Path((issue, comment_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let text = comment_body(&body)?;
    let mut shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let issue_id = shared.jira_dc.state.issues[index].id.clone();
    let position = comment_index(&shared, &issue_id, &comment_id)?;
    let time = shared.jira_dc.clock.tick();
    let comment = &mut shared.jira_dc.state.comments[position];
    comment.body = text;
    comment.update_author_key = caller.key.clone();
    comment.updated = jira_timestamp(time);
    let comment = comment.clone();
    events::emit_comment_events(&app, &mut shared, index, &caller, &comment, "updated", time);
    let body = render::comment(&app.config.jira_dc, &app.urls, &comment);
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /rest/api/2/issue/{key}/comment/{id}`: responds 204.
pub(crate) async fn delete_comment(
    State(app): State<Arc<App>>,
    Extension(JiraDcCaller(caller)): Extension<JiraDcCaller>,
    Path((issue, comment_id)): Path<(String, String)>,
) -> Result<Response, JiraError> {
    let mut shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let issue_id = shared.jira_dc.state.issues[index].id.clone();
    let position = comment_index(&shared, &issue_id, &comment_id)?;
    let time = shared.jira_dc.clock.tick();
    let comment = shared.jira_dc.state.comments.remove(position);
    events::emit_comment_events(&app, &mut shared, index, &caller, &comment, "deleted", time);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /rest/api/2/issue/{key}/remotelink` with `{"object": {"url", "title"}}`: responds 201
/// and records no webhook, as Jira does.
pub(crate) async fn add_remote_link(
    State(app): State<Arc<App>>,
    Path(issue): Path<String>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = Value::Object(parse_object(&body)?);
    let url = request
        .pointer("/object/url")
        .and_then(Value::as_str)
        .ok_or_else(|| JiraError::field("url", "'url' is required"))?
        .to_owned();
    let title = request
        .pointer("/object/title")
        .and_then(Value::as_str)
        .ok_or_else(|| JiraError::field("title", "'title' is required"))?
        .to_owned();
    let mut shared = app.lock();
    let index = issue_index(&shared, &issue)?;
    let id = shared.jira_dc.next_id();
    let issue_id = shared.jira_dc.state.issues[index].id.clone();
    shared.jira_dc.state.remote_links.push(JiraDcRemoteLink {
        id,
        issue_id: issue_id.clone(),
        url,
        title,
    });
    let body = json!({
        "id": id,
        "self": format!("{}/rest/api/2/issue/{issue_id}/remotelink/{id}", app.urls.jira_dc),
    });
    Ok(json_response(StatusCode::CREATED, &body))
}
