//! JSON representations of Jira resources. REST responses use API v3, with text fields as
//! ADF documents. Webhook payloads use the v2 representation, with text fields as wiki markup.

use serde_json::{Map, Value, json};

use super::{ISSUE_TYPES, Status, adf, find_project, status_named};
use crate::app::Urls;
use crate::config::{JiraConfig, JiraUser};
use crate::state::{JiraComment, JiraIssue, JiraRemoteLink, JiraState};

/// The form in which an issue or comment is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Representation {
    /// REST API v3: text fields as ADF documents.
    RestV3,
    /// Webhook payloads: text fields as wiki markup strings, `self` links to API v2.
    Webhook,
}

impl Representation {
    fn api(self, urls: &Urls) -> String {
        match self {
            Representation::RestV3 => format!("{}/rest/api/3", urls.jira),
            Representation::Webhook => format!("{}/rest/api/2", urls.jira),
        }
    }
}

/// Renders a user as embedded in issues, comments and webhooks. The email address is left out, as
/// Jira does for most privacy settings.
pub(crate) fn user(urls: &Urls, user: &JiraUser) -> Value {
    account(urls, &user.account_id, &user.display_name)
}

/// Renders the configured user with `account_id`, or a placeholder named "Former user".
pub(crate) fn user_by_account(config: &JiraConfig, urls: &Urls, account_id: &str) -> Value {
    match config.users.iter().find(|u| u.account_id == account_id) {
        Some(found) => user(urls, found),
        None => account(urls, account_id, "Former user"),
    }
}

fn account(urls: &Urls, account_id: &str, display_name: &str) -> Value {
    json!({
        "self": format!("{}/rest/api/3/user?accountId={account_id}", urls.jira),
        "accountId": account_id,
        "accountType": "atlassian",
        "active": true,
        "displayName": display_name,
        "timeZone": "Etc/UTC",
        "avatarUrls": {},
    })
}

/// Renders a workflow status with its category.
pub(crate) fn status(urls: &Urls, status: &Status) -> Value {
    json!({
        "self": format!("{}/rest/api/3/status/{}", urls.jira, status.id),
        "description": "",
        "iconUrl": format!("{}/", urls.jira),
        "name": status.name,
        "id": status.id,
        "statusCategory": {
            "self": format!("{}/rest/api/3/statuscategory/{}", urls.jira, status.category_id),
            "id": status.category_id,
            "key": status.category_key,
            "colorName": status.category_color,
            "name": status.category_name,
        },
    })
}

fn issue_type(urls: &Urls, name: &str) -> Value {
    let id = ISSUE_TYPES
        .iter()
        .find(|(_, type_name)| *type_name == name)
        .map_or("10001", |(id, _)| id);
    json!({
        "self": format!("{}/rest/api/3/issuetype/{id}", urls.jira),
        "id": id,
        "description": "",
        "iconUrl": "",
        "name": name,
        "subtask": false,
        "hierarchyLevel": 0,
    })
}

fn project(config: &JiraConfig, urls: &Urls, key: &str) -> Value {
    let id = find_project(config, key).map_or_else(String::new, |project| project.id);
    json!({
        "self": format!("{}/rest/api/3/project/{id}", urls.jira),
        "id": id,
        "key": key,
        "name": key,
        "projectTypeKey": "software",
        "simplified": false,
    })
}

/// Renders an issue in the given representation. REST v3 responses also carry the issue's comments.
pub(crate) fn issue(
    config: &JiraConfig,
    urls: &Urls,
    state: &JiraState,
    issue: &JiraIssue,
    representation: Representation,
) -> Value {
    let done = issue.status == "Done";
    let description = match (&issue.description, representation) {
        (None, _) => Value::Null,
        (Some(doc), Representation::RestV3) => doc.clone(),
        (Some(doc), Representation::Webhook) => Value::String(adf::to_wiki(doc)),
    };
    let mut fields = Map::new();
    let mut set = |name: &str, value: Value| {
        fields.insert(name.to_owned(), value);
    };
    set("summary", Value::String(issue.summary.clone()));
    set("description", description);
    set("labels", json!(issue.labels));
    set("status", status(urls, &status_named(&issue.status)));
    set("project", project(config, urls, &issue.project_key));
    set("issuetype", issue_type(urls, &issue.issue_type));
    set("created", Value::String(issue.created.clone()));
    set("updated", Value::String(issue.updated.clone()));
    set(
        "statuscategorychangedate",
        Value::String(issue.status_category_changed.clone()),
    );
    set(
        "creator",
        user_by_account(config, urls, &issue.creator_account_id),
    );
    set(
        "reporter",
        user_by_account(config, urls, &issue.reporter_account_id),
    );
    set("assignee", Value::Null);
    set(
        "priority",
        json!({
            "self": format!("{}/rest/api/3/priority/3", urls.jira),
            "iconUrl": "",
            "name": "Medium",
            "id": "3",
        }),
    );
    set(
        "resolution",
        if done {
            json!({
                "self": format!("{}/rest/api/3/resolution/10000", urls.jira),
                "id": "10000",
                "description": "Work has been completed on this issue.",
                "name": "Done",
            })
        } else {
            Value::Null
        },
    );
    set("resolutiondate", json!(issue.resolution_date));
    if representation == Representation::RestV3 {
        let comments: Vec<Value> = state
            .comments
            .iter()
            .filter(|comment| comment.issue_id == issue.id)
            .map(|c| self::comment(config, urls, c, representation))
            .collect();
        let total = comments.len();
        set(
            "comment",
            json!({ "comments": comments, "maxResults": total, "total": total, "startAt": 0 }),
        );
    }

    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": format!("{}/issue/{}", representation.api(urls), issue.id),
        "key": issue.key,
        "fields": fields,
    })
}

/// Renders a comment in the given representation.
pub(crate) fn comment(
    config: &JiraConfig,
    urls: &Urls,
    comment: &JiraComment,
    representation: Representation,
) -> Value {
    let body = match representation {
        Representation::RestV3 => comment.body.clone(),
        Representation::Webhook => Value::String(adf::to_wiki(&comment.body)),
    };
    json!({
        "self": format!(
            "{}/issue/{}/comment/{}",
            representation.api(urls),
            comment.issue_id,
            comment.id
        ),
        "id": comment.id,
        "author": user_by_account(config, urls, &comment.author_account_id),
        "body": body,
        "updateAuthor": user_by_account(config, urls, &comment.update_author_account_id),
        "created": comment.created,
        "updated": comment.updated,
        "jsdPublic": true,
    })
}

/// Returns the `self` link of a remote link.
pub(crate) fn remote_link_self(urls: &Urls, issue_key: &str, id: u64) -> String {
    format!("{}/rest/api/3/issue/{issue_key}/remotelink/{id}", urls.jira)
}

/// A remote link, as `GET .../remotelink` returns it.
pub(crate) fn remote_link(urls: &Urls, issue_key: &str, link: &JiraRemoteLink) -> Value {
    let mut value = Map::new();
    value.insert("id".to_owned(), json!(link.id));
    value.insert(
        "self".to_owned(),
        Value::String(remote_link_self(urls, issue_key, link.id)),
    );
    if let Some(global_id) = &link.global_id {
        value.insert("globalId".to_owned(), Value::String(global_id.clone()));
    }
    if let Some(application) = &link.application {
        value.insert("application".to_owned(), application.clone());
    }
    if let Some(relationship) = &link.relationship {
        value.insert(
            "relationship".to_owned(),
            Value::String(relationship.clone()),
        );
    }
    value.insert("object".to_owned(), link.object.clone());
    Value::Object(value)
}
