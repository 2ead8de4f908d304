//! Request handlers of the fake Azure DevOps organization.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::events::{self, work_item_json};
use super::{AzureCaller, AzureComment, AzureDevopsUser, AzureError, AzureWorkItem, json_response};
use crate::app::{App, Shared};
use crate::clock::jira_timestamp;

const COLLECTION_NAMESPACE: &str = "3e65f728-f8bc-4ecd-8764-7e378b19bfa7";
const PROJECT_NAMESPACE: &str = "52d39943-cb85-4d7f-8fa8-c6baac873819";
const PROJECT_TOKEN_PREFIX: &str = "$PROJECT:vstfs:///Classification/TeamProject/";

pub(crate) async fn not_found() -> Response {
    AzureError::new(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        "No resource matches the request path in the sandbox.",
    )
    .into_response()
}

fn check_organization(app: &App, organization: &str) -> Result<(), AzureError> {
    if organization.eq_ignore_ascii_case(&app.config.azure_devops.organization) {
        Ok(())
    } else {
        Err(AzureError::not_found(format!(
            "TF400898: organization {organization} does not exist."
        )))
    }
}

/// `GET /_apis/connectionData`: the identity the token belongs to.
pub(crate) async fn connection_data(
    State(app): State<Arc<App>>,
    Extension(AzureCaller(user)): Extension<AzureCaller>,
    Path(organization): Path<String>,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let identity = json!({
        "id": user.id,
        "descriptor": format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{}", user.unique_name),
        "subjectDescriptor": format!("aad.{}", user.id),
        "providerDisplayName": user.display_name,
        "isActive": true,
        "properties": {"Account": {"$type": "System.String", "$value": user.unique_name}},
    });
    let body = json!({
        "authenticatedUser": identity,
        "authorizedUser": identity,
        "instanceId": "00000000-0000-4000-8000-00000000c002",
        "deploymentType": "hosted",
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /_apis/projects/{name}`.
pub(crate) async fn project(
    State(app): State<Arc<App>>,
    Path((organization, name)): Path<(String, String)>,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let id = app.config.azure_devops.project_id(&name).ok_or_else(|| {
        AzureError::not_found(format!(
            "TF200016: The following project does not exist: {name}."
        ))
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "name": name, "state": "wellFormed", "visibility": "private"}),
    ))
}

/// `GET /_apis/permissions/{namespace}/{bits}?tokens=...`: evaluates the caller's permission:
/// Project Collection Administrators in the Collection namespace, Project Administrators in
/// the Project namespace.
pub(crate) async fn permissions(
    State(app): State<Arc<App>>,
    Extension(AzureCaller(user)): Extension<AzureCaller>,
    Path((organization, namespace, _bits)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let token = query.get("tokens").cloned().unwrap_or_default();
    let granted = match namespace.as_str() {
        COLLECTION_NAMESPACE => user.collection_admin,
        PROJECT_NAMESPACE => {
            let config = &app.config.azure_devops;
            let project_id = token.strip_prefix(PROJECT_TOKEN_PREFIX).unwrap_or_default();
            config.projects.iter().any(|name| {
                config.project_id(name).as_deref() == Some(project_id)
                    && user.project_admin.iter().any(|admin| admin == name)
            })
        }
        _ => false,
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"count": 1, "value": [granted]}),
    ))
}

fn item_index(shared: &Shared, id: &str) -> Result<usize, AzureError> {
    let number: u64 = id
        .parse()
        .map_err(|_| AzureError::bad_request(format!("The work item id {id} is not a number.")))?;
    shared
        .azure_devops
        .state
        .work_items
        .iter()
        .position(|item| item.id == number)
        .ok_or_else(|| {
            AzureError::not_found(format!(
                "TF401232: Work item {id} does not exist, or you do not have permissions to read it."
            ))
        })
}

/// `GET /_apis/wit/workitems/{id}`; `fields` is ignored.
pub(crate) async fn get_work_item(
    State(app): State<Arc<App>>,
    Path((organization, id)): Path<(String, String)>,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let shared = app.lock();
    let index = item_index(&shared, &id)?;
    let body = work_item_json(&app, &shared.azure_devops.state.work_items[index]);
    Ok(json_response(StatusCode::OK, &body))
}

/// Reads a JSON Patch body, rejecting other content types as Azure DevOps does.
fn json_patch(headers: &HeaderMap, body: &Bytes) -> Result<Vec<Value>, AzureError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json-patch+json") {
        return Err(AzureError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeException",
            format!(
                "The request content type {content_type:?} is not supported: use application/json-patch+json."
            ),
        ));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Array(operations)) => Ok(operations),
        _ => Err(AzureError::bad_request(
            "You must pass a valid patch document in the body of the request.",
        )),
    }
}

/// Applies JSON Patch operations to `item` and returns the changed fields as
/// (field, old value, new value).
fn apply(
    app: &App,
    item: &mut AzureWorkItem,
    operations: &[Value],
) -> Result<Vec<(String, Value, Value)>, AzureError> {
    let mut changes = Vec::new();
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = operation.get("value").cloned().unwrap_or(Value::Null);
        if op == "test" && path == "/rev" {
            if value.as_u64() != Some(item.rev) {
                return Err(AzureError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "RuleValidationException",
                    "TF26071: This work item has been changed by someone else since you opened it.",
                ));
            }
            continue;
        }
        if !matches!(op, "add" | "replace") {
            return Err(AzureError::bad_request(format!(
                "The operation {op:?} is not supported."
            )));
        }
        if path == "/relations/-" {
            let url = value.get("url").and_then(Value::as_str).unwrap_or_default();
            if value.get("rel").and_then(Value::as_str) != Some("Hyperlink") || url.is_empty() {
                return Err(AzureError::bad_request(
                    "Only Hyperlink relations with a url are supported.",
                ));
            }
            item.hyperlinks.push(url.to_owned());
            continue;
        }
        let text = match &value {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let slot = match path {
            "/fields/System.Title" => {
                if text.trim().is_empty() {
                    return Err(AzureError::bad_request(
                        "TF401320: Rule Error for field Title. Error code: Required.",
                    ));
                }
                &mut item.title
            }
            "/fields/System.Description" => &mut item.description,
            "/fields/System.Tags" => &mut item.tags,
            "/fields/System.State" => {
                if !app.config.azure_devops.states.contains(&text) {
                    return Err(AzureError::bad_request(format!(
                        "TF401320: Rule Error for field State. Error code: InvalidListValue, the value {text:?} is not in the list of supported values."
                    )));
                }
                &mut item.state
            }
            other => {
                return Err(AzureError::bad_request(format!(
                    "TF51535: Cannot find field {}.",
                    other.trim_start_matches("/fields/")
                )));
            }
        };
        if *slot != text {
            let field = path.trim_start_matches("/fields/").to_owned();
            changes.push((field, json!(slot.clone()), json!(text)));
            *slot = text;
        }
    }
    Ok(changes)
}

/// `POST /{project}/_apis/wit/workitems/${type}` with a JSON Patch body: responds 200 with the
/// work item and records `workitem.created`.
pub(crate) async fn create_work_item(
    State(app): State<Arc<App>>,
    Extension(AzureCaller(user)): Extension<AzureCaller>,
    Path((organization, project, kind)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let operations = json_patch(&headers, &body)?;
    let config = &app.config.azure_devops;
    let project = config
        .projects
        .iter()
        .find(|known| known.eq_ignore_ascii_case(&project))
        .cloned()
        .ok_or_else(|| {
            AzureError::not_found(format!(
                "TF200016: The following project does not exist: {project}."
            ))
        })?;
    let kind = kind.strip_prefix('$').unwrap_or(&kind).to_owned();
    let mut shared = app.lock();
    let time = shared.azure_devops.clock.tick();
    let now = jira_timestamp(time);
    let mut item = AzureWorkItem {
        id: shared.azure_devops.state.work_items.len() as u64 + 100,
        rev: 1,
        project,
        work_item_type: kind,
        title: String::new(),
        description: String::new(),
        state: config.states[0].clone(),
        tags: String::new(),
        created_by: user.id.clone(),
        changed_by: user.id.clone(),
        created_date: now.clone(),
        changed_date: now,
        hyperlinks: Vec::new(),
    };
    apply(&app, &mut item, &operations)?;
    if item.title.is_empty() {
        return Err(AzureError::bad_request(
            "TF401320: Rule Error for field Title. Error code: Required.",
        ));
    }
    shared.azure_devops.state.work_items.push(item.clone());
    events::created(&app, &mut shared, &item, &user);
    Ok(json_response(StatusCode::OK, &work_item_json(&app, &item)))
}

/// `PATCH /_apis/wit/workitems/{id}` with a JSON Patch body: responds 200 with the work item
/// and records `workitem.updated`.
pub(crate) async fn update_work_item(
    State(app): State<Arc<App>>,
    Extension(AzureCaller(user)): Extension<AzureCaller>,
    Path((organization, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let operations = json_patch(&headers, &body)?;
    let mut shared = app.lock();
    let index = item_index(&shared, &id)?;
    let before = shared.azure_devops.state.work_items[index].clone();
    let mut after = before.clone();
    let changes = apply(&app, &mut after, &operations)?;
    let time = shared.azure_devops.clock.tick();
    after.rev += 1;
    after.changed_by = user.id.clone();
    after.changed_date = jira_timestamp(time);
    shared.azure_devops.state.work_items[index] = after.clone();
    events::updated(&app, &mut shared, &before, &after, &user, changes);
    Ok(json_response(StatusCode::OK, &work_item_json(&app, &after)))
}

fn comment_json(app: &App, comment: &AzureComment, user: &AzureDevopsUser) -> Value {
    json!({
        "workItemId": comment.work_item_id,
        "id": comment.id,
        "version": comment.version,
        "text": comment.text,
        "createdBy": {"id": user.id, "displayName": user.display_name, "uniqueName": user.unique_name},
        "url": format!("{}/_apis/wit/workItems/{}/comments/{}", events::organization_url(app), comment.work_item_id, comment.id),
    })
}

fn comment_text(body: &Bytes) -> Result<String, AzureError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| AzureError::bad_request(format!("Invalid JSON: {error}")))?;
    value
        .get("text")
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| AzureError::bad_request("The comment text cannot be empty."))
}

/// `POST /{project}/_apis/wit/workItems/{id}/comments` with `{"text": html}`: responds 200 and
/// records `workitem.commented`, then the `workitem.updated` of the new revision.
pub(crate) async fn add_comment(
    State(app): State<Arc<App>>,
    Extension(AzureCaller(user)): Extension<AzureCaller>,
    Path((organization, _project, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let text = comment_text(&body)?;
    let mut shared = app.lock();
    let index = item_index(&shared, &id)?;
    let before = shared.azure_devops.state.work_items[index].clone();
    let comment = AzureComment {
        id: shared.azure_devops.next_comment_id(),
        work_item_id: before.id,
        text: text.clone(),
        created_by: user.id.clone(),
        version: 1,
    };
    let time = shared.azure_devops.clock.tick();
    let mut after = before.clone();
    after.rev += 1;
    after.changed_by = user.id.clone();
    after.changed_date = jira_timestamp(time);
    shared.azure_devops.state.work_items[index] = after.clone();
    shared.azure_devops.state.comments.push(comment.clone());
    events::commented(&app, &mut shared, &after, &comment, &user);
    let history = vec![("System.History".to_owned(), Value::Null, json!(text))];
    events::updated(&app, &mut shared, &before, &after, &user, history);
    Ok(json_response(
        StatusCode::OK,
        &comment_json(&app, &comment, &user),
    ))
}

fn comment_index(shared: &Shared, id: &str, comment_id: &str) -> Result<usize, AzureError> {
    shared
        .azure_devops
        .state
        .comments
        .iter()
        .position(|c| c.id.to_string() == comment_id && c.work_item_id.to_string() == id)
        .ok_or_else(|| AzureError::not_found(format!("Comment {comment_id} does not exist.")))
}

/// `PATCH .../comments/{commentId}` with `{"text": html}`: responds 200 and records nothing.
pub(crate) async fn update_comment(
    State(app): State<Arc<App>>,
    Extension(AzureCaller(user)): Extension<AzureCaller>,
    Path((organization, _project, id, comment_id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let text = comment_text(&body)?;
    let mut shared = app.lock();
    let index = comment_index(&shared, &id, &comment_id)?;
    let comment = &mut shared.azure_devops.state.comments[index];
    comment.text = text;
    comment.version += 1;
    let comment = comment.clone();
    Ok(json_response(
        StatusCode::OK,
        &comment_json(&app, &comment, &user),
    ))
}

/// `DELETE .../comments/{commentId}`: responds 204.
pub(crate) async fn delete_comment(
    State(app): State<Arc<App>>,
    Path((organization, _project, id, comment_id)): Path<(String, String, String, String)>,
) -> Result<Response, AzureError> {
    check_organization(&app, &organization)?;
    let mut shared = app.lock();
    let index = comment_index(&shared, &id, &comment_id)?;
    shared.azure_devops.state.comments.remove(index);
    Ok(StatusCode::NO_CONTENT.into_response())
}
