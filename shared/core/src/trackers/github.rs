//! GitHub: `issues` and `issue_comment` webhooks in, the REST API out.
//!
//! Issue keys are `owner/repo#number`, so every key names the repository it
//! belongs to and the project scope check needs no lookup.

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
use crate::options::{InstanceOption, OptionKind};
use crate::time_util::parse_rfc3339_ms;
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, Source, Target, TrackerModule,
};

const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The instance options GitHub reads: the repository hooks that `doctor` checks and the catch-up
/// redelivers from (`hook_id` on `hook_repo`, or `hooks` as owner/repo to hook id).
pub const INSTANCE_OPTIONS: &[InstanceOption] = &[
    InstanceOption::new("hook_id", OptionKind::NumericId),
    InstanceOption::new("hook_repo", OptionKind::Text),
    InstanceOption::new("hooks", OptionKind::NumericIdMap),
];

/// The GitHub tracker module.
pub struct Github;

impl TrackerModule for Github {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"token": "<personal access token>", "webhook_secret": "..."}"#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        let token = credentials.token.clone().ok_or(
            "the secret has no \"token\" field: store the proxy user's personal access token there",
        )?;
        Ok(Auth::Bearer(token))
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", "2022-11-28"),
            ("user-agent", "proxysync"),
        ]
    }
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    node_id: String,
    html_url: String,
    title: String,
    #[serde(default)]
    body: Option<String>,
    state: String,
    #[serde(default)]
    labels: Vec<Label>,
    updated_at: String,
    #[serde(default)]
    pull_request: Option<Value>,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: User,
    updated_at: String,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Payload {
    action: String,
    issue: Issue,
    repository: Repository,
    sender: User,
    #[serde(default)]
    changes: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    label: Option<Label>,
    #[serde(default)]
    comment: Option<Comment>,
}

impl Source for Github {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        verify_hex_hmac(request, secret, SIGNATURE_HEADER)
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        let event = request
            .header("x-github-event")
            .ok_or(Rejection::MissingHeader("X-GitHub-Event"))?
            .to_owned();
        let delivery_id = request.header("x-github-delivery").map(str::to_owned);
        let json = json_body(request)?;

        let mut parsed = Parsed {
            delivery_id,
            event_name: event.clone(),
            ..Parsed::default()
        };
        if event != "issues" && event != "issue_comment" {
            parsed.ignored = Some(format!("event type {event} is not synced"));
            return Ok(parsed);
        }

        let value: Value = serde_json::from_slice(&json).map_err(|error| {
            Rejection::Malformed(format!(
                "body is not JSON ({error}): set the webhook's content type to application/json"
            ))
        })?;
        let payload: Payload = serde_json::from_value(value)
            .map_err(|error| Rejection::not_payload(format!("{event} payload: {error}")))?;
        parsed.event_name = format!("{event}.{}", payload.action);
        if payload.issue.pull_request.is_some() {
            parsed.ignored = Some("pull request events are not synced".to_owned());
            return Ok(parsed);
        }
        match to_change(&event, &payload)? {
            Some(change) => {
                parsed
                    .events
                    .push(to_event(instance, &parsed.event_name, payload, change)?)
            }
            None => parsed.ignored = Some(format!("action {} is not synced", parsed.event_name)),
        }
        Ok(parsed)
    }
}

/// Returns the JSON bytes of a webhook, also when the hook posts form-encoded `payload=`.
fn json_body(request: &InboundRequest) -> Result<Vec<u8>, Rejection> {
    let form = request
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok(request.body.clone());
    }
    url::form_urlencoded::parse(&request.body)
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned().into_bytes())
        .ok_or_else(|| Rejection::Malformed("form-encoded body has no payload field: set the webhook's content type to application/json".to_owned()))
}

fn to_change(event: &str, payload: &Payload) -> Result<Option<Change>, Rejection> {
    let change = match (event, payload.action.as_str()) {
        ("issues", "opened") => Change::IssueCreated,
        ("issues", "edited") => {
            let changes = payload.changes.as_ref();
            let mut fields = Vec::new();
            if changes.is_some_and(|c| c.contains_key("title")) {
                fields.push(Field::Title);
            }
            if changes.is_some_and(|c| c.contains_key("body")) {
                fields.push(Field::Body);
            }
            issue_updated(fields, Vec::new(), Vec::new())
        }
        ("issues", "closed" | "reopened") => {
            issue_updated(vec![Field::State], Vec::new(), Vec::new())
        }
        ("issues", "labeled" | "unlabeled") => {
            let label = payload.label.as_ref().ok_or_else(|| {
                Rejection::Malformed(format!("issues.{} payload has no label", payload.action))
            })?;
            let name = vec![label.name.clone()];
            if payload.action == "labeled" {
                issue_updated(vec![Field::Labels], name, Vec::new())
            } else {
                issue_updated(vec![Field::Labels], Vec::new(), name)
            }
        }
        ("issue_comment", "created" | "edited" | "deleted") => {
            let comment = payload.comment.as_ref().ok_or_else(|| {
                Rejection::Malformed("issue_comment payload has no comment".to_owned())
            })?;
            let content = CommentContent {
                id: comment.id.to_string(),
                body: comment.body.clone().unwrap_or_default(),
                author: Author {
                    id: comment.user.id.to_string(),
                    name: comment.user.login.clone(),
                },
            };
            match payload.action.as_str() {
                "created" => Change::CommentCreated { comment: content },
                "edited" => Change::CommentUpdated { comment: content },
                _ => Change::CommentDeleted {
                    comment_id: content.id,
                },
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(change))
}

fn issue_updated(
    fields: Vec<Field>,
    labels_added: Vec<String>,
    labels_removed: Vec<String>,
) -> Change {
    Change::IssueUpdated {
        fields,
        labels_added,
        labels_removed,
    }
}

fn to_event(
    instance: &str,
    kind: &str,
    payload: Payload,
    change: Change,
) -> Result<ChangeEvent, Rejection> {
    let issue = payload.issue;
    let timestamp = match (&change, &payload.comment) {
        (Change::IssueCreated | Change::IssueUpdated { .. }, _) | (_, None) => &issue.updated_at,
        (_, Some(comment)) => &comment.updated_at,
    };
    let at_ms = parse_rfc3339_ms(timestamp).ok_or_else(|| {
        Rejection::Malformed(format!("invalid updated_at timestamp {timestamp:?}"))
    })?;
    let state = if issue.state == "closed" {
        IssueState::Closed
    } else {
        IssueState::Open
    };

    Ok(ChangeEvent {
        kind: kind.to_owned(),
        tracker: TrackerKind::Github,
        instance: instance.to_owned(),
        issue: IssueRef {
            key: format!("{}#{}", payload.repository.full_name, issue.number),
            id: issue.node_id,
            url: issue.html_url,
        },
        project: payload.repository.full_name,
        content: IssueContent {
            title: issue.title,
            body: issue.body.unwrap_or_default(),
            state,
            labels: issue.labels.into_iter().map(|label| label.name).collect(),
        },
        author: Author {
            id: payload.sender.id.to_string(),
            name: payload.sender.login,
        },
        at_ms,
        change,
    })
}

/// Splits `owner/repo#12` into the issue's API path prefix, `/repos/owner/repo/issues/12`.
fn issue_path(issue: &IssueRef) -> Result<String, TargetError> {
    let (repo, number) = issue.key.rsplit_once('#').ok_or_else(|| {
        TargetError::Refused(format!(
            "invalid GitHub issue key {:?}: expected owner/repo#number",
            issue.key
        ))
    })?;
    Ok(format!("/repos/{repo}/issues/{number}"))
}

/// The page size and the maximum number of pages of the listing for an issue created earlier.
const FIND_PAGE_SIZE: usize = 100;
const FIND_MAX_PAGES: usize = 5;

/// Returns the reference of a listed issue when it is an issue, not a pull request, of
/// `project` created at or after `since_ms` with the title and body of `content`.
fn created_match(
    project: &Endpoint,
    issue: &Value,
    content: &IssueContent,
    since_ms: i64,
) -> Option<IssueRef> {
    if issue.get("pull_request").is_some() {
        return None;
    }
    let created_ms = issue
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms)?;
    let title = issue.get("title").and_then(Value::as_str)?;
    let body = issue
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if created_ms < since_ms || title != content.title || body != content.body {
        return None;
    }
    let number = issue.get("number").and_then(Value::as_u64)?;
    let candidate = IssueRef {
        key: format!("{}#{number}", project.project),
        id: issue.get("node_id").and_then(Value::as_str)?.to_owned(),
        url: issue
            .get("html_url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    Some(candidate)
}

fn repo_of(issue: &IssueRef) -> &str {
    issue.key.rsplit_once('#').map_or("", |(repo, _)| repo)
}

fn bad_response(method: &str, path: &str, message: &str) -> TargetError {
    TargetError::BadResponse {
        tracker: TrackerKind::Github,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn ignore_not_found(result: Result<Value, TargetError>) -> Result<(), TargetError> {
    match result {
        Err(error) if error.status() == Some(404) => Ok(()),
        other => other.map(drop),
    }
}

fn state_patch(state: IssueState) -> Value {
    match state {
        IssueState::Closed => json!({"state": "closed", "state_reason": "completed"}),
        IssueState::Open => json!({"state": "open"}),
    }
}

#[async_trait]
impl Target for Github {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let user = api.get("/user").await?;
        let id = user
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_response("GET", "/user", "no numeric id"))?;
        let login = user
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(ProxyIdentity {
            id: id.to_string(),
            name: login.to_owned(),
        })
    }

    async fn create_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
    ) -> Result<IssueRef, TargetError> {
        let path = format!("/repos/{}/issues", project.project);
        let body = json!({"title": content.title, "body": content.body, "labels": content.labels});
        let created = api.post(&path, &body).await?;
        let number = created
            .get("number")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_response("POST", &path, "created issue has no number"))?;
        let issue = IssueRef {
            key: format!("{}#{number}", project.project),
            id: created
                .get("node_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            url: created
                .get("html_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        };
        if content.state == IssueState::Closed {
            api.patch(&issue_path(&issue)?, &state_patch(IssueState::Closed))
                .await?;
        }
        Ok(issue)
    }

    /// Lists the repository's issues that the proxy user created at or after `since_ms` with
    /// the title and body of `content`, newest first.
    ///
    /// NOTE: GitHub issues have no hidden field to record the source in, so this matches on
    /// the creator, the time and the content. An issue that a person edited since the lost
    /// create is not found, and the pipeline skips candidates that are already linked.
    async fn find_created(
        &self,
        api: &Api,
        project: &Endpoint,
        _source: &IssueRef,
        content: &IssueContent,
        since_ms: i64,
    ) -> Result<Vec<IssueRef>, TargetError> {
        let proxy = self.whoami(api).await?;
        let since = time::OffsetDateTime::from_unix_timestamp(since_ms.div_euclid(1000))
            .ok()
            .and_then(|at| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
        let mut found = Vec::new();
        for page in 1..=FIND_MAX_PAGES {
            let path = format!(
                "/repos/{}/issues?creator={}&state=all&since={}&sort=created&direction=desc&per_page={FIND_PAGE_SIZE}&page={page}",
                project.project,
                urlencoding::encode(&proxy.name),
                urlencoding::encode(&since)
            );
            let listed = api.get(&path).await?;
            let issues = listed.as_array().map(Vec::as_slice).unwrap_or_default();
            for issue in issues {
                if let Some(candidate) = created_match(project, issue, content, since_ms) {
                    found.push(candidate);
                }
            }
            if issues.len() < FIND_PAGE_SIZE {
                break;
            }
        }
        Ok(found)
    }

    async fn update_issue(
        &self,
        api: &Api,
        _project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        let path = issue_path(issue)?;
        let mut patch = match update.state {
            Some(state) => state_patch(state),
            None => json!({}),
        };
        if let Some(title) = &update.title {
            patch["title"] = json!(title);
        }
        if let Some(body) = &update.body {
            patch["body"] = json!(body);
        }
        if patch.as_object().is_some_and(|fields| !fields.is_empty()) {
            api.patch(&path, &patch).await?;
        }
        if !update.labels_add.is_empty() {
            api.post(
                &format!("{path}/labels"),
                &json!({"labels": update.labels_add}),
            )
            .await?;
        }
        for label in &update.labels_remove {
            let label_path = format!("{path}/labels/{}", urlencoding::encode(label));
            ignore_not_found(api.delete(&label_path).await)?;
        }
        Ok(())
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        let path = format!("{}/comments", issue_path(issue)?);
        let created = api.post(&path, &json!({"body": body})).await?;
        created
            .get("id")
            .and_then(Value::as_u64)
            .map(|id| id.to_string())
            .ok_or_else(|| bad_response("POST", &path, "created comment has no id"))
    }

    async fn update_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
        body: &str,
    ) -> Result<(), TargetError> {
        let path = format!("/repos/{}/issues/comments/{comment_id}", repo_of(issue));
        api.patch(&path, &json!({"body": body})).await.map(drop)
    }

    async fn delete_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        let path = format!("/repos/{}/issues/comments/{comment_id}", repo_of(issue));
        ignore_not_found(api.delete(&path).await)
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        let body = format!(
            "Linked with {} issue [{}]({}). proxysync keeps the two in sync.",
            peer.tracker, peer.issue.key, peer.issue.url
        );
        self.add_comment(api, issue, &body).await.map(drop)
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        repo_of(issue) == project.project
    }

    fn dry_run_response(&self, method: &str, path: &str, _body: Option<&Value>) -> Value {
        match method {
            "POST" if path.ends_with("/issues") => json!({
                "number": 0,
                "node_id": "(dry run)",
                "html_url": "(dry run)",
            }),
            "POST" if path.ends_with("/comments") => json!({"id": 0}),
            "GET" if path == "/user" => json!({"id": 0, "login": "(dry run)"}),
            _ => json!({}),
        }
    }

    async fn preflight(
        &self,
        api: &Api,
        instance: &crate::model::Instance,
    ) -> Vec<crate::tracker::PreflightCheck> {
        crate::doctor::github_preflight(api, instance).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_path_from_key() {
        let issue = IssueRef {
            key: "acme/widgets#12".to_owned(),
            ..IssueRef::default()
        };
        assert_eq!(issue_path(&issue).unwrap(), "/repos/acme/widgets/issues/12");
    }

    #[test]
    fn issue_path_rejects_bare_number() {
        let issue = IssueRef {
            key: "12".to_owned(),
            ..IssueRef::default()
        };
        assert!(issue_path(&issue).is_err());
    }

    #[test]
    fn in_project_compares_repository() {
        let project = Endpoint {
            instance: "gh".to_owned(),
            project: "acme/widgets".to_owned(),
            issue_type: None,
            closed_status: None,
            open_status: None,
            options: Default::default(),
        };
        let inside = IssueRef {
            key: "acme/widgets#1".to_owned(),
            ..IssueRef::default()
        };
        let outside = IssueRef {
            key: "acme/widgets-private#1".to_owned(),
            ..IssueRef::default()
        };
        assert!(Github.in_project(&project, &inside));
        assert!(!Github.in_project(&project, &outside));
    }
}
