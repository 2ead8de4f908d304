//! `POST /rest/api/3/search/jql` and `GET /rest/api/3/mypermissions`.
//!
//! The search understands a subset of JQL: conditions joined by `AND`, each one of
//! `project = KEY`, `project in (KEY, ...)`, `creator = currentUser()`,
//! `updated >= -N[mhdw]` or `updated >= "yyyy-MM-dd HH:mm"` (also with `/` between the
//! date's parts; UTC here, the caller's time zone on Jira Data Center), the same two forms
//! for `created >=`, and an optional `ORDER BY updated|created ASC|DESC`.
//! Anything else answers 400, so a client that sends more than the sandbox models notices.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::JiraCaller;
use super::error::{JiraError, json_response};
use super::render::{self, Representation};
use super::{find_project, parse_object};
use crate::app::App;

/// The permissions `mypermissions` knows, with the names Jira shows.
const PERMISSIONS: [(&str, &str); 10] = [
    ("BROWSE_PROJECTS", "Browse Projects"),
    ("CREATE_ISSUES", "Create Issues"),
    ("EDIT_ISSUES", "Edit Issues"),
    ("TRANSITION_ISSUES", "Transition Issues"),
    ("ADD_COMMENTS", "Add Comments"),
    ("EDIT_OWN_COMMENTS", "Edit Own Comments"),
    ("EDIT_ALL_COMMENTS", "Edit All Comments"),
    ("DELETE_OWN_COMMENTS", "Delete Own Comments"),
    ("DELETE_ALL_COMMENTS", "Delete All Comments"),
    ("LINK_ISSUES", "Link Issues"),
];

/// A parsed JQL query.
#[derive(Debug, Default)]
pub(crate) struct JqlQuery {
    pub(crate) projects: Option<Vec<String>>,
    pub(crate) updated_since: Option<OffsetDateTime>,
    pub(crate) created_since: Option<OffsetDateTime>,
    /// Set by `creator = currentUser()`.
    pub(crate) created_by_caller: bool,
    /// Set by `ORDER BY created`; the default order is by `updated`.
    pub(crate) by_created: bool,
    pub(crate) descending: bool,
}

fn unsupported(jql: &str) -> JiraError {
    JiraError::message(
        StatusCode::BAD_REQUEST,
        format!("The sandbox does not support the JQL query '{jql}'."),
    )
}

fn unquote(value: &str) -> String {
    value.trim().trim_matches('"').trim_matches('\'').to_owned()
}

/// Parses `jql`, reading relative times from `now` and absolute dates in `zone`.
pub(crate) fn parse_jql(
    jql: &str,
    now: OffsetDateTime,
    zone: &jiff::tz::TimeZone,
) -> Result<JqlQuery, JiraError> {
    let mut query = JqlQuery::default();
    let lower = jql.to_lowercase();
    let (conditions, order) = match lower.find(" order by ") {
        Some(at) => (&jql[..at], Some(lower[at + 10..].trim().to_owned())),
        None => (jql, None),
    };
    if let Some(order) = order {
        let (field, direction) = order.split_once(' ').unwrap_or((order.as_str(), "asc"));
        query.by_created = match field {
            "updated" => false,
            "created" => true,
            _ => return Err(unsupported(jql)),
        };
        query.descending = match direction.trim() {
            "asc" => false,
            "desc" => true,
            _ => return Err(unsupported(jql)),
        };
    }
    for condition in split_and(conditions) {
        let condition = condition.trim();
        let lowered = condition.to_lowercase();
        if let Some(list) = lowered.strip_prefix("project in") {
            let list = list.trim();
            if !(list.starts_with('(') && list.ends_with(')')) {
                return Err(unsupported(jql));
            }
            let start = condition.find('(').unwrap_or(0) + 1;
            let end = condition.rfind(')').unwrap_or(condition.len());
            query.projects = Some(condition[start..end].split(',').map(unquote).collect());
        } else if lowered.starts_with("project =") {
            let at = condition.find('=').unwrap_or(0) + 1;
            query.projects = Some(vec![unquote(&condition[at..])]);
        } else if lowered.starts_with("updated >=") {
            let at = condition.find(">=").unwrap_or(0) + 2;
            query.updated_since =
                Some(parse_since(&condition[at..], now, zone).ok_or_else(|| unsupported(jql))?);
        } else if lowered.starts_with("created >=") {
            let at = condition.find(">=").unwrap_or(0) + 2;
            query.created_since =
                Some(parse_since(&condition[at..], now, zone).ok_or_else(|| unsupported(jql))?);
        } else if lowered.replace(' ', "") == "creator=currentuser()" {
            query.created_by_caller = true;
        } else {
            return Err(unsupported(jql));
        }
    }
    Ok(query)
}

/// Splits on `AND` outside parentheses and quotes.
fn split_and(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    let mut quoted = false;
    let words: Vec<&str> = text.split(' ').collect();
    for word in words {
        if depth == 0 && !quoted && word.eq_ignore_ascii_case("and") {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        for c in word.chars() {
            match c {
                '(' if !quoted => depth += 1,
                ')' if !quoted => depth -= 1,
                '"' => quoted = !quoted,
                _ => {}
            }
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    parts.push(current);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// Parses `-15m`, `-2h`, `-1d`, `-1w`, or `"2026-12-04 16:20"` and `"2026/12/04 16:20"` as a
/// local time in `zone`. A local time that occurs twice is read as the earlier instant.
fn parse_since(
    value: &str,
    now: OffsetDateTime,
    zone: &jiff::tz::TimeZone,
) -> Option<OffsetDateTime> {
    let value = unquote(value);
    if let Some(relative) = value.strip_prefix('-') {
        let (number, unit) = relative.split_at(relative.len().checked_sub(1)?);
        let number: i64 = number.parse().ok()?;
        let span = match unit {
            "m" => time::Duration::minutes(number),
            "h" => time::Duration::hours(number),
            "d" => time::Duration::days(number),
            "w" => time::Duration::weeks(number),
            _ => return None,
        };
        return Some(now - span);
    }
    let local = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", value.replace('/', "-")).ok()?;
    let at = zone.to_ambiguous_timestamp(local).compatible().ok()?;
    OffsetDateTime::from_unix_timestamp(at.as_second()).ok()
}

/// Parses a stored Jira timestamp such as "2026-12-04T16:20:00.000+0000".
pub(crate) fn stored_time(value: &str) -> Option<OffsetDateTime> {
    let fixed = value.strip_suffix("+0000").map(|head| format!("{head}Z"))?;
    OffsetDateTime::parse(&fixed, &Rfc3339).ok()
}

/// `POST /rest/api/3/search/jql` with `jql`, `maxResults` (default 50), `nextPageToken` and
/// `properties` (the entity property keys to return). Returns `{issues, isLast,
/// nextPageToken}` with each issue in its REST v3 form, and a `properties` object on each
/// issue when keys were requested; the `fields` list is ignored and every field is returned.
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let request = parse_object(&body)?;
    let jql = request
        .get("jql")
        .and_then(Value::as_str)
        .ok_or_else(|| JiraError::field("jql", "The JQL query is required."))?;
    let query = parse_jql(jql, OffsetDateTime::now_utc(), &jiff::tz::TimeZone::UTC)?;
    if query.projects.is_none() && query.updated_since.is_none() {
        return Err(JiraError::message(
            StatusCode::BAD_REQUEST,
            "Unbounded JQL queries are not allowed here.",
        ));
    }
    if let Some(projects) = &query.projects {
        for key in projects {
            if find_project(&app.config.jira, key).is_none() {
                return Err(JiraError::message(
                    StatusCode::BAD_REQUEST,
                    format!("The value '{key}' does not exist for the field 'project'."),
                ));
            }
        }
    }
    let property_keys: Vec<&str> = request
        .get("properties")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let max = request
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 5000) as usize;
    let offset = request
        .get("nextPageToken")
        .and_then(Value::as_str)
        .and_then(|token| token.parse::<usize>().ok())
        .unwrap_or(0);

    let shared = app.lock();
    let mut found: Vec<_> = shared
        .store
        .jira
        .issues
        .iter()
        .filter(|issue| {
            query.projects.as_ref().is_none_or(|projects| {
                projects
                    .iter()
                    .any(|key| key.eq_ignore_ascii_case(&issue.project_key))
            })
        })
        .filter(
            |issue| match (query.updated_since, stored_time(&issue.updated)) {
                (Some(since), Some(updated)) => updated >= since,
                _ => true,
            },
        )
        .filter(
            |issue| match (query.created_since, stored_time(&issue.created)) {
                (Some(since), Some(created)) => created >= since,
                _ => true,
            },
        )
        .filter(|issue| !query.created_by_caller || issue.creator_account_id == caller.account_id)
        .collect();
    if query.by_created {
        found.sort_by(|a, b| a.created.cmp(&b.created));
    } else {
        found.sort_by(|a, b| a.updated.cmp(&b.updated));
    }
    if query.descending {
        found.reverse();
    }
    let total = found.len();
    let issues: Vec<Value> = found
        .into_iter()
        .skip(offset)
        .take(max)
        .map(|issue| {
            let mut rendered = render::issue(
                &app.config.jira,
                &app.urls,
                &shared.store.jira,
                issue,
                Representation::RestV3,
            );
            if !property_keys.is_empty() {
                let properties: serde_json::Map<String, Value> = property_keys
                    .iter()
                    .filter_map(|key| {
                        let value = issue.properties.get(*key)?;
                        Some(((*key).to_owned(), value.clone()))
                    })
                    .collect();
                rendered["properties"] = Value::Object(properties);
            }
            rendered
        })
        .collect();
    let is_last = offset + max >= total;
    let mut body = json!({"issues": issues, "isLast": is_last});
    if !is_last {
        body["nextPageToken"] = json!((offset + max).to_string());
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /rest/api/3/mypermissions?permissions=A,B&projectKey=K`: whether the caller has each
/// permission. Every user has every permission unless `Sandbox::deny_jira_permission` took it.
pub(crate) async fn my_permissions(
    State(app): State<Arc<App>>,
    Extension(JiraCaller(caller)): Extension<JiraCaller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, JiraError> {
    let requested = params.get("permissions").ok_or_else(|| {
        JiraError::message(
            StatusCode::BAD_REQUEST,
            "The permissions parameter is required.",
        )
    })?;
    if let Some(project) = params.get("projectKey")
        && find_project(&app.config.jira, project).is_none()
    {
        return Err(JiraError::message(
            StatusCode::NOT_FOUND,
            format!("No project could be found with key '{project}'."),
        ));
    }
    let shared = app.lock();
    let mut permissions = serde_json::Map::new();
    for key in requested
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let Some((index, (_, name))) = PERMISSIONS
            .iter()
            .enumerate()
            .find(|(_, (known, _))| *known == key)
        else {
            return Err(JiraError::message(
                StatusCode::BAD_REQUEST,
                format!("The permission key '{key}' is invalid."),
            ));
        };
        permissions.insert(
            key.to_owned(),
            json!({
                "id": (10 + index).to_string(),
                "key": key,
                "name": name,
                "type": "PROJECT",
                "description": "",
                "havePermission": shared.ops.jira_has(&caller.account_id, key),
            }),
        );
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"permissions": Value::Object(permissions)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_project_list_and_relative_time() {
        let now = OffsetDateTime::now_utc();
        let query = parse_jql(
            "project in (\"SUP\", HR) AND updated >= -15m ORDER BY updated ASC",
            now,
            &jiff::tz::TimeZone::UTC,
        )
        .unwrap();
        assert_eq!(
            query.projects,
            Some(vec!["SUP".to_owned(), "HR".to_owned()])
        );
        assert_eq!(query.updated_since, Some(now - time::Duration::minutes(15)));
        assert!(!query.descending);
    }

    #[test]
    fn jql_creator_and_created_order() {
        let now = OffsetDateTime::now_utc();
        let query = parse_jql(
            "project = \"SUP\" AND creator = currentUser() AND created >= -90m ORDER BY created DESC",
            now,
            &jiff::tz::TimeZone::UTC,
        )
        .unwrap();
        assert_eq!(query.projects, Some(vec!["SUP".to_owned()]));
        assert!(query.created_by_caller);
        assert_eq!(query.created_since, Some(now - time::Duration::minutes(90)));
        assert!(query.by_created);
        assert!(query.descending);
    }

    #[test]
    fn jql_unknown_condition_rejected() {
        let utc = jiff::tz::TimeZone::UTC;
        assert!(parse_jql("assignee = currentUser()", OffsetDateTime::now_utc(), &utc).is_err());
    }

    #[test]
    fn jql_absolute_date_in_zone() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let now = OffsetDateTime::now_utc();
        let query = parse_jql("updated >= \"2026/12/04 17:20\"", now, &berlin).unwrap();
        assert_eq!(
            query.updated_since,
            Some(time::macros::datetime!(2026-12-04 16:20 UTC))
        );
        let dashed = parse_jql("updated >= \"2026-12-04 17:20\"", now, &berlin).unwrap();
        assert_eq!(dashed.updated_since, query.updated_since);
    }
}
