//! Service hook deliveries of the fake Azure DevOps organization.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::{AzureComment, AzureDevopsUser, AzureWorkItem};
use crate::app::{App, Shared};
use crate::webhooks::{RecordedWebhook, Tracker};

/// The subscription id of the one Web Hooks subscription the sandbox delivers to.
const SUBSCRIPTION_ID: &str = "00000000-0000-4000-8000-00000000d001";

/// Renders an identity as resource version 1.0 does in fields: `Name <unique name>`.
pub(crate) fn identity_text(app: &App, user_id: &str) -> String {
    match app
        .config
        .azure_devops
        .users
        .iter()
        .find(|user| user.id == user_id)
    {
        Some(user) => format!("{} <{}>", user.display_name, user.unique_name),
        None => "Former User <former@acme.example>".to_owned(),
    }
}

/// Returns the base URL of the organization, like https://dev.azure.com/acme.
pub(crate) fn organization_url(app: &App) -> String {
    format!(
        "{}/{}",
        app.urls.azure_devops, app.config.azure_devops.organization
    )
}

/// Builds the `fields` of a work item as the REST API and the hooks show them.
pub(crate) fn fields(app: &App, item: &AzureWorkItem) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut set = |name: &str, value: Value| {
        fields.insert(name.to_owned(), value);
    };
    set("System.AreaPath", json!(item.project));
    set("System.TeamProject", json!(item.project));
    set("System.IterationPath", json!(item.project));
    set("System.WorkItemType", json!(item.work_item_type));
    set("System.State", json!(item.state));
    set(
        "System.Reason",
        json!(format!("Moved to state {}", item.state)),
    );
    set("System.CreatedDate", json!(item.created_date));
    set(
        "System.CreatedBy",
        json!(identity_text(app, &item.created_by)),
    );
    set("System.ChangedDate", json!(item.changed_date));
    set(
        "System.ChangedBy",
        json!(identity_text(app, &item.changed_by)),
    );
    set("System.Title", json!(item.title));
    if !item.description.is_empty() {
        set("System.Description", json!(item.description));
    }
    if !item.tags.is_empty() {
        set("System.Tags", json!(item.tags));
    }
    fields
}

fn item_url(app: &App, item: &AzureWorkItem) -> String {
    format!(
        "{}/{}/_apis/wit/workItems/{}",
        organization_url(app),
        urlencode(&item.project),
        item.id
    )
}

fn html_url(app: &App, item: &AzureWorkItem) -> String {
    format!(
        "{}/{}/_workitems/edit/{}",
        organization_url(app),
        urlencode(&item.project),
        item.id
    )
}

fn urlencode(text: &str) -> String {
    text.replace(' ', "%20")
}

/// The work item as `GET .../workitems/{id}` returns it.
pub(crate) fn work_item_json(app: &App, item: &AzureWorkItem) -> Value {
    let relations: Vec<Value> = item
        .hyperlinks
        .iter()
        .map(|url| json!({"rel": "Hyperlink", "url": url, "attributes": {}}))
        .collect();
    json!({
        "id": item.id,
        "rev": item.rev,
        "fields": fields(app, item),
        "relations": relations,
        "_links": {"html": {"href": html_url(app, item)}},
        "url": item_url(app, item),
    })
}

fn revised_by(user: &AzureDevopsUser) -> Value {
    json!({
        "id": user.id,
        "name": format!("{} <{}>", user.display_name, user.unique_name),
        "displayName": user.display_name,
        "uniqueName": user.unique_name,
        "descriptor": format!("aad.{}", BASE64.encode(&user.id)),
    })
}

/// Records `workitem.created` for `item`.
pub(crate) fn created(
    app: &App,
    shared: &mut Shared,
    item: &AzureWorkItem,
    user: &AzureDevopsUser,
) {
    let resource = work_item_json(app, item);
    let text = format!(
        "{} #{} ({}) created by {}",
        item.work_item_type, item.id, item.title, user.display_name
    );
    deliver(app, shared, "workitem.created", &text, resource, item);
}

/// Records `workitem.updated` for `after`, with `changes` as (field, old value, new value).
pub(crate) fn updated(
    app: &App,
    shared: &mut Shared,
    before: &AzureWorkItem,
    after: &AzureWorkItem,
    user: &AzureDevopsUser,
    mut changes: Vec<(String, Value, Value)>,
) {
    changes.push(("System.Rev".to_owned(), json!(before.rev), json!(after.rev)));
    changes.push((
        "System.ChangedDate".to_owned(),
        json!(before.changed_date),
        json!(after.changed_date),
    ));
    let changed: Map<String, Value> = changes
        .into_iter()
        .map(|(field, old, new)| (field, json!({"oldValue": old, "newValue": new})))
        .collect();
    let resource = json!({
        "id": after.rev - 1,
        "workItemId": after.id,
        "rev": after.rev,
        "revisedBy": revised_by(user),
        "revisedDate": "9999-01-01T00:00:00Z",
        "fields": changed,
        "url": format!("{}/updates/{}", item_url(app, after), after.rev - 1),
        "revision": {
            "id": after.id,
            "rev": after.rev,
            "fields": fields(app, after),
            "url": format!("{}/revisions/{}", item_url(app, after), after.rev),
        },
    });
    let text = format!(
        "{} #{} ({}) updated by {}",
        after.work_item_type, after.id, after.title, user.display_name
    );
    deliver(app, shared, "workitem.updated", &text, resource, after);
}

/// Records `workitem.commented` for a new comment on `item`.
pub(crate) fn commented(
    app: &App,
    shared: &mut Shared,
    item: &AzureWorkItem,
    comment: &AzureComment,
    user: &AzureDevopsUser,
) {
    let mut resource = work_item_json(app, item);
    resource["fields"]["System.History"] = json!(comment.text);
    resource["commentVersionRef"] = json!({
        "commentId": comment.id,
        "version": comment.version,
        "url": format!("{}/comments/{}/versions/{}", item_url(app, item), comment.id, comment.version),
    });
    let text = format!(
        "{} #{} ({}) commented on by {}",
        item.work_item_type, item.id, item.title, user.display_name
    );
    deliver(app, shared, "workitem.commented", &text, resource, item);
}

fn deliver(
    app: &App,
    shared: &mut Shared,
    event_type: &str,
    text: &str,
    resource: Value,
    item: &AzureWorkItem,
) {
    let config = &app.config.azure_devops;
    shared.azure_devops.notifications += 1;
    let base = format!("{}/", organization_url(app));
    let project_id = config.project_id(&item.project).unwrap_or_default();
    let body = json!({
        "subscriptionId": SUBSCRIPTION_ID,
        "notificationId": shared.azure_devops.notifications,
        "id": uuid::Uuid::new_v4().to_string(),
        "eventType": event_type,
        "publisherId": "tfs",
        "message": {"text": text},
        "detailedMessage": {"text": text},
        "resource": resource,
        "resourceVersion": "1.0",
        "resourceContainers": {
            "collection": {"id": "00000000-0000-4000-8000-00000000c001", "baseUrl": base},
            "account": {"id": "00000000-0000-4000-8000-00000000c002", "baseUrl": base},
            "project": {"id": project_id, "baseUrl": base},
        },
        "createdDate": item.changed_date,
    });
    let mut headers = vec![
        (
            "Content-Type".to_owned(),
            "application/json; charset=utf-8".to_owned(),
        ),
        (
            "Authorization".to_owned(),
            format!("Basic {}", BASE64.encode(&config.hook_basic_auth)),
        ),
    ];
    if let Some((name, value)) = &config.hook_header {
        headers.push((name.clone(), value.clone()));
    }
    let webhook = RecordedWebhook {
        tracker: Tracker::AzureDevops.as_str().to_owned(),
        headers,
        body: body.to_string().into_bytes(),
    };
    shared.emit(webhook);
}
