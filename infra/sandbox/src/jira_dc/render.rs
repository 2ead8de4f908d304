//! JSON representations of Jira Data Center resources, as REST v2 and webhooks show them.

use serde_json::{Value, json};

use super::{JiraDcComment, JiraDcConfig, JiraDcIssue, JiraDcUser};
use crate::app::Urls;
use crate::jira::status_named;

/// Renders a user as Data Center embeds it: `name`, `key`, no `accountId`.
pub(crate) fn user(urls: &Urls, user: &JiraDcUser) -> Value {
    json!({
        "self": format!("{}/rest/api/2/user?username={}", urls.jira_dc, user.name),
        "name": user.name,
        "key": user.key,
        "emailAddress": user.email,
        "avatarUrls": {},
        "displayName": user.display_name,
        "active": true,
        "timeZone": user.time_zone,
    })
}

/// Renders the configured user with `key`, or a placeholder for a deleted account.
pub(crate) fn user_by_key(config: &JiraDcConfig, urls: &Urls, key: &str) -> Value {
    match config.users.iter().find(|user| user.key == key) {
        Some(found) => user(urls, found),
        None => json!({"name": key, "key": key, "displayName": "Former user", "active": false}),
    }
}

pub(crate) fn project(config: &JiraDcConfig, urls: &Urls, key: &str) -> Value {
    let service_desk = config
        .service_desk_projects
        .iter()
        .any(|known| known.eq_ignore_ascii_case(key));
    json!({
        "self": format!("{}/rest/api/2/project/{key}", urls.jira_dc),
        "id": format!("1{}", key.len()),
        "key": key,
        "name": key,
        "projectTypeKey": if service_desk { "service_desk" } else { "software" },
    })
}

/// Renders an issue with the fields proxysync reads.
pub(crate) fn issue(config: &JiraDcConfig, urls: &Urls, issue: &JiraDcIssue) -> Value {
    let status = status_named(&issue.status);
    json!({
        "id": issue.id,
        "self": format!("{}/rest/api/2/issue/{}", urls.jira_dc, issue.id),
        "key": issue.key,
        "fields": {
            "summary": issue.summary,
            "description": issue.description,
            "labels": issue.labels,
            "issuetype": {"name": issue.issue_type, "subtask": false},
            "project": project(config, urls, &issue.project_key),
            "status": {
                "self": format!("{}/rest/api/2/status/{}", urls.jira_dc, status.id),
                "name": status.name,
                "id": status.id,
                "statusCategory": {
                    "id": status.category_id,
                    "key": status.category_key,
                    "colorName": status.category_color,
                    "name": status.category_name,
                },
            },
            "creator": user_by_key(config, urls, &issue.creator_key),
            "reporter": user_by_key(config, urls, &issue.creator_key),
            "created": issue.created,
            "updated": issue.updated,
        },
    })
}

pub(crate) fn comment(config: &JiraDcConfig, urls: &Urls, comment: &JiraDcComment) -> Value {
    json!({
        "self": format!(
            "{}/rest/api/2/issue/{}/comment/{}",
            urls.jira_dc, comment.issue_id, comment.id
        ),
        "id": comment.id,
        "author": user_by_key(config, urls, &comment.author_key),
        "body": comment.body,
        "updateAuthor": user_by_key(config, urls, &comment.update_author_key),
        "created": comment.created,
        "updated": comment.updated,
    })
}
