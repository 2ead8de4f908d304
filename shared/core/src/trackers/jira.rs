//! Jira Cloud: admin webhooks in, REST API v3 out.
//!
//! Webhook bodies carry descriptions and comments as wiki markup, while REST
//! v3 reads and writes Atlassian Document Format (ADF). Inbound text is
//! converted from wiki markup to Markdown; outbound Markdown becomes ADF.

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use super::signature::verify_hex_hmac;
use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    Author, Change, ChangeEvent, CommentContent, Endpoint, Field, IssueContent, IssueRef,
    IssueState, ProxyIdentity, TrackerKind,
};
use crate::time_util::parse_rfc3339_ms;
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, Source, Target, TrackerModule,
};

const SIGNATURE_HEADER: &str = "x-hub-signature";
const DEFAULT_ISSUE_TYPE: &str = "Task";
const DEFAULT_CLOSED_STATUS: &str = "Done";
const DEFAULT_OPEN_STATUS: &str = "To Do";
/// The issue entity property in which proxysync records the source issue of an issue it
/// creates, as `{"url": "<source issue URL>"}`.
const SOURCE_PROPERTY: &str = "proxysync.source";
/// The page size and the maximum number of pages of the search for an issue created earlier.
const FIND_PAGE_SIZE: u32 = 100;
const FIND_MAX_PAGES: usize = 5;

/// What differs between Jira Cloud and Jira Data Center on the wire.
pub(super) struct Flavor {
    pub(super) kind: TrackerKind,
    /// The REST API prefix: `/rest/api/3` on Cloud, `/rest/api/2` on Data Center.
    pub(super) api: &'static str,
    /// The user field that holds the stable account id: `accountId` on Cloud, `key` on Data Center.
    pub(super) user_id_field: &'static str,
    /// Converts Markdown into the text value REST writes take: ADF on Cloud, wiki markup on Data Center.
    pub(super) text: fn(&str) -> Value,
    /// Read comments from `jira:issue_updated` events of type `issue_commented`,
    /// `issue_comment_edited` and `issue_comment_deleted`, and ignore `comment_*` events.
    /// Data Center's `comment_*` events carry no issue, so they cannot be routed.
    pub(super) comments_in_issue_updates: bool,
}

const CLOUD: Flavor = Flavor {
    kind: TrackerKind::JiraCloud,
    api: "/rest/api/3",
    user_id_field: "accountId",
    text: proxysync_formats::markdown_to_adf,
    comments_in_issue_updates: false,
};

/// The Jira Cloud tracker module.
pub struct JiraCloud;

impl TrackerModule for JiraCloud {
    fn secret_example(&self) -> &'static str {
        r#"{"email": "<Atlassian account email>", "api_token": "...", "webhook_secret": "..."}"#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        let email = credentials
            .email
            .clone()
            .ok_or("the secret has no \"email\" field: store the proxy user's Atlassian account email there")?;
        let token = credentials
            .token
            .clone()
            .ok_or("the secret has no \"api_token\" field: store the proxy user's Atlassian API token there")?;
        Ok(Auth::Basic {
            user: email,
            password: token,
        })
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    #[serde(default)]
    account_id: Option<String>,
    /// The Data Center user key, such as `JIRAUSER10100`; Cloud sends none.
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    display_name: String,
}

#[derive(Deserialize, Default)]
struct StatusCategory {
    #[serde(default)]
    key: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    status_category: StatusCategory,
}

#[derive(Deserialize)]
struct Project {
    key: String,
}

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: Option<Value>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    status: Option<Status>,
    project: Project,
    #[serde(default)]
    updated: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    id: String,
    key: String,
    #[serde(rename = "self")]
    self_url: String,
    fields: Fields,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    id: String,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    author: Option<User>,
    #[serde(default)]
    update_author: Option<User>,
    #[serde(default)]
    updated: Option<String>,
}

#[derive(Deserialize)]
struct ChangelogItem {
    field: String,
    #[serde(default, rename = "fromString")]
    from_string: Option<String>,
    #[serde(default, rename = "toString")]
    to_string: Option<String>,
}

#[derive(Deserialize)]
struct Changelog {
    #[serde(default)]
    items: Vec<ChangelogItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    webhook_event: String,
    #[serde(default, rename = "issue_event_type_name")]
    issue_event_type_name: Option<String>,
    timestamp: i64,
    #[serde(default)]
    user: Option<User>,
    issue: Issue,
    #[serde(default)]
    changelog: Option<Changelog>,
    #[serde(default)]
    comment: Option<Comment>,
}

impl Source for JiraCloud {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        verify_hex_hmac(request, secret, SIGNATURE_HEADER)
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        parse_webhook(&CLOUD, instance, request)
    }
}

/// Parses a Jira webhook of either flavor into change events of `instance`.
pub(super) fn parse_webhook(
    flavor: &Flavor,
    instance: &str,
    request: &InboundRequest,
) -> Result<Parsed, Rejection> {
    let delivery_id = request
        .header("x-atlassian-webhook-identifier")
        .map(str::to_owned);
    let json: Value = serde_json::from_slice(&request.body)
        .map_err(|error| Rejection::not_payload(format!("body is not JSON: {error}")))?;
    let event = json
        .get("webhookEvent")
        .and_then(Value::as_str)
        .ok_or_else(|| Rejection::not_payload("missing field `webhookEvent`"))?
        .to_owned();

    let mut parsed = Parsed {
        delivery_id,
        event_name: event.clone(),
        ..Parsed::default()
    };
    let handled = [
        "jira:issue_created",
        "jira:issue_updated",
        "comment_created",
        "comment_updated",
        "comment_deleted",
    ];
    if !handled.contains(&event.as_str()) {
        parsed.ignored = Some(format!("event type {event} is not synced"));
        return Ok(parsed);
    }
    if flavor.comments_in_issue_updates && event.starts_with("comment_") {
        parsed.ignored = Some(format!(
            "{event} is not synced: comments sync from jira:issue_updated events, which carry the issue"
        ));
        return Ok(parsed);
    }

    let payload: Payload = serde_json::from_value(json)
        .map_err(|error| Rejection::not_payload(format!("{event} payload: {error}")))?;
    match to_change(flavor, &payload)? {
        Some((change, author)) => parsed
            .events
            .push(to_event(flavor, instance, payload, change, author)?),
        None => parsed.ignored = Some(format!("{event} changed no synced field")),
    }
    Ok(parsed)
}

fn to_change(flavor: &Flavor, payload: &Payload) -> Result<Option<(Change, Author)>, Rejection> {
    let to_author = |user: &User| to_author(flavor, user);
    let comment_update = match payload.issue_event_type_name.as_deref() {
        Some("issue_commented") => Some("comment_created"),
        Some("issue_comment_edited") => Some("comment_updated"),
        Some("issue_comment_deleted") => Some("comment_deleted"),
        _ => None,
    };
    let event = match comment_update {
        Some(comment_event) if flavor.comments_in_issue_updates => comment_event,
        _ => payload.webhook_event.as_str(),
    };
    if let Some(kind) = event.strip_prefix("comment_") {
        let comment = payload
            .comment
            .as_ref()
            .ok_or_else(|| Rejection::Malformed(format!("{event} payload has no comment")))?;
        let creator = comment.author.as_ref().map(to_author).unwrap_or_default();
        // The last editor made the change being reported; the creator is the fallback.
        let actor = match kind {
            "created" => creator.clone(),
            _ => comment
                .update_author
                .as_ref()
                .map(to_author)
                .unwrap_or(creator.clone()),
        };
        if actor.id.is_empty() {
            return Err(Rejection::Malformed(format!(
                "{event} payload has no comment author {}",
                flavor.user_id_field
            )));
        }
        let content = CommentContent {
            id: comment.id.clone(),
            body: text_to_markdown(comment.body.as_ref()),
            author: creator,
        };
        let change = match kind {
            "created" => Change::CommentCreated { comment: content },
            "updated" => Change::CommentUpdated { comment: content },
            _ => Change::CommentDeleted {
                comment_id: content.id,
            },
        };
        return Ok(Some((change, actor)));
    }

    let actor = payload
        .user
        .as_ref()
        .map(to_author)
        .ok_or_else(|| Rejection::Malformed(format!("{event} payload has no user")))?;
    if actor.id.is_empty() {
        return Err(Rejection::Malformed(format!(
            "{event} payload has no user {}",
            flavor.user_id_field
        )));
    }
    if event == "jira:issue_created" {
        return Ok(Some((Change::IssueCreated, actor)));
    }

    let items = payload
        .changelog
        .as_ref()
        .map(|log| log.items.as_slice())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let mut labels_added = Vec::new();
    let mut labels_removed = Vec::new();
    for item in items {
        match item.field.as_str() {
            "summary" => fields.push(Field::Title),
            "description" => fields.push(Field::Body),
            "status" | "resolution" => fields.push(Field::State),
            "labels" => {
                fields.push(Field::Labels);
                let before = split_labels(item.from_string.as_deref());
                let after = split_labels(item.to_string.as_deref());
                labels_added.extend(after.iter().filter(|l| !before.contains(l)).cloned());
                labels_removed.extend(before.iter().filter(|l| !after.contains(l)).cloned());
            }
            _ => {}
        }
    }
    fields.dedup();
    if fields.is_empty() {
        return Ok(None);
    }
    let change = Change::IssueUpdated {
        fields,
        labels_added,
        labels_removed,
    };
    Ok(Some((change, actor)))
}

fn split_labels(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn to_author(flavor: &Flavor, user: &User) -> Author {
    let id = match flavor.kind {
        TrackerKind::JiraCloud => &user.account_id,
        _ => &user.key,
    };
    Author {
        id: id.clone().unwrap_or_default(),
        name: user.display_name.clone(),
    }
}

/// Converts a description or comment body to Markdown: webhooks send wiki markup, REST v3 sends ADF.
fn text_to_markdown(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(wiki)) => proxysync_formats::wiki_to_markdown(wiki),
        Some(doc @ Value::Object(_)) => proxysync_formats::adf_to_markdown(doc),
        _ => String::new(),
    }
}

fn to_event(
    flavor: &Flavor,
    instance: &str,
    payload: Payload,
    change: Change,
    author: Author,
) -> Result<ChangeEvent, Rejection> {
    let issue = payload.issue;
    let comment_time = payload
        .comment
        .as_ref()
        .and_then(|comment| comment.updated.as_deref());
    let at_ms = match (&change, comment_time) {
        (Change::CommentCreated { .. } | Change::CommentUpdated { .. }, Some(time)) => {
            parse_rfc3339_ms(time)
        }
        _ => issue.fields.updated.as_deref().and_then(parse_rfc3339_ms),
    }
    .unwrap_or(payload.timestamp);

    let closed = issue
        .fields
        .status
        .as_ref()
        .is_some_and(|status| status.status_category.key == "done");
    let site = issue.self_url.split("/rest/").next().unwrap_or_default();
    Ok(ChangeEvent {
        kind: payload.webhook_event,
        tracker: flavor.kind,
        instance: instance.to_owned(),
        project: issue.fields.project.key,
        issue: IssueRef {
            url: format!("{site}/browse/{}", issue.key),
            key: issue.key,
            id: issue.id,
        },
        content: IssueContent {
            title: issue.fields.summary,
            body: text_to_markdown(issue.fields.description.as_ref()),
            state: if closed {
                IssueState::Closed
            } else {
                IssueState::Open
            },
            labels: issue.fields.labels,
        },
        author,
        at_ms,
        change,
    })
}

/// Jira labels cannot hold spaces, so spaces become underscores.
pub(super) fn jira_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join("_")
}

pub(super) fn bad_response(
    flavor: &Flavor,
    method: &str,
    path: &str,
    message: &str,
) -> TargetError {
    TargetError::BadResponse {
        tracker: flavor.kind,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn issue_path(flavor: &Flavor, issue: &IssueRef) -> String {
    format!("{}/issue/{}", flavor.api, urlencoding::encode(&issue.key))
}

/// Moves `issue` to `status` through one of its available transitions.
async fn transition(
    flavor: &Flavor,
    api: &Api,
    issue: &IssueRef,
    status: &str,
) -> Result<(), TargetError> {
    let path = format!("{}/transitions", issue_path(flavor, issue));
    let answer = api.get(&path).await?;
    let transitions = answer
        .get("transitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let target_name = |t: &Value| {
        t.pointer("/to/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let found = transitions
        .iter()
        .find(|t| target_name(t).eq_ignore_ascii_case(status));

    let Some(found) = found else {
        let current = api
            .get(&format!("{}?fields=status", issue_path(flavor, issue)))
            .await?;
        let current = current
            .pointer("/fields/status/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if current.eq_ignore_ascii_case(status) {
            return Ok(());
        }
        let available: Vec<String> = transitions.iter().map(target_name).collect();
        return Err(TargetError::Refused(format!(
            "Jira issue {} has no transition to status {status:?} from {current:?} (available: {}): \
             set closed_status or open_status on the connection to a reachable status",
            issue.key,
            available.join(", ")
        )));
    };
    let id = found.get("id").cloned().unwrap_or(Value::Null);
    api.post(&path, &json!({"transition": {"id": id}}))
        .await
        .map(drop)
}

#[async_trait]
impl Target for JiraCloud {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let path = "/rest/api/3/myself";
        let me = api.get(path).await?;
        let id = me
            .get("accountId")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_response(&CLOUD, "GET", path, "no accountId"))?;
        let name = me
            .get("displayName")
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
        create_issue(&CLOUD, api, project, content, None).await
    }

    async fn create_issue_for(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
        source: &IssueRef,
    ) -> Result<IssueRef, TargetError> {
        create_issue(&CLOUD, api, project, content, Some(source)).await
    }

    async fn find_created(
        &self,
        api: &Api,
        project: &Endpoint,
        source: &IssueRef,
        _content: &IssueContent,
        since_ms: i64,
    ) -> Result<Vec<IssueRef>, TargetError> {
        find_created(api, project, source, since_ms).await
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        update_issue(&CLOUD, api, project, issue, update).await
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        add_comment(&CLOUD, api, issue, body).await
    }

    async fn update_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
        body: &str,
    ) -> Result<(), TargetError> {
        update_comment(&CLOUD, api, issue, comment_id, body).await
    }

    async fn delete_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        delete_comment(&CLOUD, api, issue, comment_id).await
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        link(&CLOUD, api, issue, peer).await
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        key_in_project(project, issue)
    }

    fn dry_run_response(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        match method {
            "GET" if path.ends_with("/myself") => json!({"accountId": "(dry run)"}),
            _ => dry_run_response(&CLOUD, method, path, body),
        }
    }

    async fn preflight(
        &self,
        api: &Api,
        instance: &crate::model::Instance,
    ) -> Vec<crate::tracker::PreflightCheck> {
        crate::doctor::jira_preflight(api, instance, CLOUD.api).await
    }
}

/// Creates an issue through the flavor's REST API, and moves it to the closed status when needed.
///
/// With `source`, the new issue carries the [`SOURCE_PROPERTY`] entity property that
/// [`find_created`] looks for.
pub(super) async fn create_issue(
    flavor: &Flavor,
    api: &Api,
    project: &Endpoint,
    content: &IssueContent,
    source: Option<&IssueRef>,
) -> Result<IssueRef, TargetError> {
    let path = format!("{}/issue", flavor.api);
    let issue_type = project.issue_type.as_deref().unwrap_or(DEFAULT_ISSUE_TYPE);
    let labels: Vec<String> = content.labels.iter().map(|l| jira_label(l)).collect();
    let mut body = json!({"fields": {
        "project": {"key": project.project},
        "issuetype": {"name": issue_type},
        "summary": content.title,
        "description": (flavor.text)(&content.body),
        "labels": labels,
    }});
    if let Some(source) = source {
        body["properties"] = json!([{"key": SOURCE_PROPERTY, "value": {"url": source.url}}]);
    }
    let created = api.post(&path, &body).await?;
    let key = created
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_response(flavor, "POST", &path, "created issue has no key"))?;
    let issue = IssueRef {
        key: key.to_owned(),
        id: created
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        url: format!("{}/browse/{key}", api.base_url()),
    };
    if content.state == IssueState::Closed {
        let status = project
            .closed_status
            .as_deref()
            .unwrap_or(DEFAULT_CLOSED_STATUS);
        transition(flavor, api, &issue, status).await?;
    }
    Ok(issue)
}

/// Searches the connection's project on Jira Cloud for issues that the proxy user created at or
/// after `since_ms` and whose [`SOURCE_PROPERTY`] names `source`, newest first.
///
/// NOTE: reads at most [`FIND_MAX_PAGES`] pages of [`FIND_PAGE_SIZE`] issues, so an issue
/// behind more than 500 newer ones created by the proxy user is not found.
async fn find_created(
    api: &Api,
    project: &Endpoint,
    source: &IssueRef,
    since_ms: i64,
) -> Result<Vec<IssueRef>, TargetError> {
    let path = "/rest/api/3/search/jql";
    let minutes = (crate::time_util::now_ms() - since_ms).max(0) / 60_000 + 1;
    let jql = format!(
        "project = \"{}\" AND creator = currentUser() AND created >= -{minutes}m ORDER BY created DESC",
        project.project.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..FIND_MAX_PAGES {
        let mut request = json!({
            "jql": jql,
            "fields": ["summary"],
            "properties": [SOURCE_PROPERTY],
            "maxResults": FIND_PAGE_SIZE,
        });
        if let Some(token) = &token {
            request["nextPageToken"] = json!(token);
        }
        let page = api.post(path, &request).await?;
        let issues = page
            .get("issues")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for issue in issues {
            let url = issue
                .pointer(&format!("/properties/{SOURCE_PROPERTY}/url"))
                .and_then(Value::as_str);
            let key = issue.get("key").and_then(Value::as_str);
            let (Some(url), Some(key)) = (url, key) else {
                continue;
            };
            let candidate = IssueRef {
                key: key.to_owned(),
                id: issue
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                url: format!("{}/browse/{key}", api.base_url()),
            };
            // The JQL names the project, and the key check keeps a bad response from leaving it.
            if url == source.url && key_in_project(project, &candidate) {
                found.push(candidate);
            }
        }
        let last = page.get("isLast").and_then(Value::as_bool).unwrap_or(true);
        token = page
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if last || token.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Edits fields and labels with one PUT, then transitions when the state changed.
pub(super) async fn update_issue(
    flavor: &Flavor,
    api: &Api,
    project: &Endpoint,
    issue: &IssueRef,
    update: &IssueUpdate,
) -> Result<(), TargetError> {
    let mut fields = serde_json::Map::new();
    if let Some(title) = &update.title {
        fields.insert("summary".to_owned(), json!(title));
    }
    if let Some(body) = &update.body {
        fields.insert("description".to_owned(), (flavor.text)(body));
    }
    let mut label_ops: Vec<Value> = update
        .labels_add
        .iter()
        .map(|l| json!({"add": jira_label(l)}))
        .collect();
    label_ops.extend(
        update
            .labels_remove
            .iter()
            .map(|l| json!({"remove": jira_label(l)})),
    );

    if !fields.is_empty() || !label_ops.is_empty() {
        let mut body = json!({});
        if !fields.is_empty() {
            body["fields"] = Value::Object(fields);
        }
        if !label_ops.is_empty() {
            body["update"] = json!({"labels": label_ops});
        }
        api.put(&issue_path(flavor, issue), &body).await?;
    }
    if let Some(state) = update.state {
        let status = match state {
            IssueState::Closed => project
                .closed_status
                .as_deref()
                .unwrap_or(DEFAULT_CLOSED_STATUS),
            IssueState::Open => project
                .open_status
                .as_deref()
                .unwrap_or(DEFAULT_OPEN_STATUS),
        };
        transition(flavor, api, issue, status).await?;
    }
    Ok(())
}

pub(super) async fn add_comment(
    flavor: &Flavor,
    api: &Api,
    issue: &IssueRef,
    body: &str,
) -> Result<String, TargetError> {
    let path = format!("{}/comment", issue_path(flavor, issue));
    let created = api
        .post(&path, &json!({"body": (flavor.text)(body)}))
        .await?;
    created
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad_response(flavor, "POST", &path, "created comment has no id"))
}

pub(super) async fn update_comment(
    flavor: &Flavor,
    api: &Api,
    issue: &IssueRef,
    comment_id: &str,
    body: &str,
) -> Result<(), TargetError> {
    let path = format!("{}/comment/{comment_id}", issue_path(flavor, issue));
    api.put(&path, &json!({"body": (flavor.text)(body)}))
        .await
        .map(drop)
}

pub(super) async fn delete_comment(
    flavor: &Flavor,
    api: &Api,
    issue: &IssueRef,
    comment_id: &str,
) -> Result<(), TargetError> {
    let path = format!("{}/comment/{comment_id}", issue_path(flavor, issue));
    match api.delete(&path).await {
        Err(error) if error.status() == Some(404) => Ok(()),
        other => other.map(drop),
    }
}

/// Adds a remote link to the peer issue.
pub(super) async fn link(
    flavor: &Flavor,
    api: &Api,
    issue: &IssueRef,
    peer: &Peer<'_>,
) -> Result<(), TargetError> {
    let path = format!("{}/remotelink", issue_path(flavor, issue));
    let body = json!({
        "globalId": format!("proxysync:{}", peer.issue.url),
        "object": {
            "url": peer.issue.url,
            "title": format!("{} {}", peer.tracker, peer.issue.key),
        },
    });
    api.post(&path, &body).await.map(drop)
}

/// Returns true when the issue key is `PROJECT-<number>`.
pub(super) fn key_in_project(project: &Endpoint, issue: &IssueRef) -> bool {
    issue.key.rsplit_once('-').is_some_and(|(prefix, number)| {
        prefix == project.project && number.chars().all(|c| c.is_ascii_digit())
    })
}

pub(super) fn dry_run_response(
    flavor: &Flavor,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Value {
    match method {
        "POST" if path == format!("{}/issue", flavor.api) => {
            let project = body
                .and_then(|b| b.pointer("/fields/project/key"))
                .and_then(Value::as_str)
                .unwrap_or("NEW");
            json!({"id": "0", "key": format!("{project}-NEW")})
        }
        "POST" if path.ends_with("/comment") => json!({"id": "0"}),
        // Pretend every status is reachable, so the plan shows the transition request.
        "GET" if path.ends_with("/transitions") => json!({"transitions": [
            {"id": "(from GET transitions)", "to": {"name": DEFAULT_OPEN_STATUS}},
            {"id": "(from GET transitions)", "to": {"name": DEFAULT_CLOSED_STATUS}},
        ]}),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(project: &str) -> Endpoint {
        Endpoint {
            instance: "jira".to_owned(),
            project: project.to_owned(),
            issue_type: None,
            closed_status: None,
            open_status: None,
            options: Default::default(),
        }
    }

    fn issue(key: &str) -> IssueRef {
        IssueRef {
            key: key.to_owned(),
            ..IssueRef::default()
        }
    }

    #[test]
    fn in_project_matches_key_prefix() {
        assert!(JiraCloud.in_project(&endpoint("SUP"), &issue("SUP-12")));
    }

    #[test]
    fn in_project_rejects_other_project() {
        assert!(!JiraCloud.in_project(&endpoint("SUP"), &issue("HR-12")));
        assert!(!JiraCloud.in_project(&endpoint("SUP"), &issue("SUPPORT-12")));
    }

    #[test]
    fn label_spaces_become_underscores() {
        assert_eq!(jira_label("good first issue"), "good_first_issue");
    }

    #[test]
    fn changelog_labels_split_into_added_and_removed() {
        let before = split_labels(Some("a b"));
        let after = split_labels(Some("b c"));
        assert_eq!(before, vec!["a", "b"]);
        assert_eq!(after, vec!["b", "c"]);
    }
}
