//! Azure DevOps: service hook Web Hooks in, the work item tracking REST API out.
//!
//! The instance's base URL is the organization, such as `https://dev.azure.com/acme`, and a
//! connection's project is a team project name. Work item keys are `{project}#{id}`, so a key
//! names the project it belongs to.
//!
//! Service hooks carry no signature. The subscription's Web Hooks consumer sends Basic
//! authentication, which must match the instance's `webhook_secret` (`user:password`, or only
//! the password). With the instance option `webhook_header`, a custom header must carry
//! `webhook_secret` instead. Both comparisons run in constant time. Azure DevOps resends a
//! delivery answered 408, 502, 503 or 504 and disables a subscription answered 410, so a bad
//! request gets a 4xx other than 410 and only a failure before anything was stored gets 503.
//!
//! The author of an update is `resource.revisedBy`; of a creation or a comment,
//! `System.ChangedBy` (then `System.CreatedBy`), which older payloads give as a
//! `Display Name <unique name>` string. Authors compare by identity id; only when the id is
//! absent does the unique name decide, against the proxy's unique name that `instance add`
//! stores as the proxy identity's name. Descriptions and comments are HTML, converted to and
//! from Markdown.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::signature::secret_matches;
use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    Author, Change, ChangeEvent, CommentContent, Endpoint, Field, Instance, IssueContent, IssueRef,
    IssueState, ProxyIdentity, TrackerKind,
};
use crate::options::{InstanceOption, OptionKind};
use crate::time_util::{now_ms, parse_rfc3339_ms};
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, PreflightCheck, Source, Target,
    TrackerModule,
};

const API_VERSION: &str = "api-version=7.1";
const COMMENTS_API_VERSION: &str = "api-version=7.1-preview.4";
const JSON_PATCH: &str = "application/json-patch+json";
/// The instance option naming a custom header that carries `webhook_secret`.
pub const HEADER_OPTION: &str = "webhook_header";
/// The instance option listing the states that count as closed.
pub const CLOSED_STATES_OPTION: &str = "closed_states";
const DEFAULT_CLOSED_STATES: [&str; 4] = ["Closed", "Done", "Resolved", "Removed"];
const DEFAULT_ISSUE_TYPE: &str = "Task";
const DEFAULT_CLOSED_STATE: &str = "Closed";
const DEFAULT_OPEN_STATE: &str = "Active";
const AUTH_LABEL: &str = "Authorization (the subscription's basic authentication)";
const HEADER_LABEL: &str = "the header named by the instance option webhook_header";
/// The Collection security namespace, whose `GENERIC_WRITE` bit (2) Project Collection
/// Administrators hold.
const COLLECTION_NAMESPACE: &str = "3e65f728-f8bc-4ecd-8764-7e378b19bfa7";
/// The Project security namespace, whose `GENERIC_WRITE` bit (2) Project Administrators hold.
const PROJECT_NAMESPACE: &str = "52d39943-cb85-4d7f-8fa8-c6baac873819";

/// The instance options Azure DevOps reads. `projects` names the projects of the preflight.
pub const INSTANCE_OPTIONS: &[InstanceOption] = &[
    InstanceOption::new(HEADER_OPTION, OptionKind::Text),
    InstanceOption::new(CLOSED_STATES_OPTION, OptionKind::TextList),
    InstanceOption::new("projects", OptionKind::TextList),
];

/// The Azure DevOps tracker module.
pub struct AzureDevops;

impl TrackerModule for AzureDevops {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"token": "<personal access token>", "webhook_secret": "<user>:<password>"}"#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        let token = credentials.token.clone().ok_or(
            "the secret has no \"token\" field: store a personal access token of the proxy user there",
        )?;
        // A PAT travels as the password of Basic authentication with an empty user name.
        Ok(Auth::Basic {
            user: String::new(),
            password: token,
        })
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }
}

fn verify_basic(request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
    let header = request
        .header("authorization")
        .ok_or(Rejection::MissingSignature(AUTH_LABEL))?;
    let decoded = header
        .trim()
        .strip_prefix("Basic ")
        .and_then(|encoded| BASE64.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(Rejection::BadSignature(AUTH_LABEL))?;
    // A secret with a colon names the user too; without one it is the password alone.
    let received = if secret.expose_secret().contains(':') {
        decoded.as_str()
    } else {
        decoded.split_once(':').map_or("", |(_, password)| password)
    };
    if secret_matches(received, secret) {
        Ok(())
    } else {
        Err(Rejection::BadSignature(AUTH_LABEL))
    }
}

impl Source for AzureDevops {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        verify_basic(request, secret)
    }

    fn verify_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
        secret: &SecretString,
    ) -> Result<(), Rejection> {
        let Some(name) = instance.options.get(HEADER_OPTION).and_then(Value::as_str) else {
            return verify_basic(request, secret);
        };
        let value = request
            .header(name)
            .ok_or(Rejection::MissingSignature(HEADER_LABEL))?;
        if secret_matches(value.trim(), secret) {
            Ok(())
        } else {
            Err(Rejection::BadSignature(HEADER_LABEL))
        }
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        let context = ParseContext {
            instance,
            base_url: "",
            proxy: None,
            closed_states: DEFAULT_CLOSED_STATES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        parse_webhook(&context, request)
    }

    fn parse_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
    ) -> Result<Parsed, Rejection> {
        let closed_states = instance
            .options
            .get(CLOSED_STATES_OPTION)
            .and_then(Value::as_array)
            .map(|states| {
                states
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_else(|| {
                DEFAULT_CLOSED_STATES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            });
        let context = ParseContext {
            instance: &instance.id,
            base_url: &instance.base_url,
            proxy: instance.proxy.as_ref(),
            closed_states,
        };
        parse_webhook(&context, request)
    }
}

struct ParseContext<'a> {
    instance: &'a str,
    base_url: &'a str,
    proxy: Option<&'a ProxyIdentity>,
    closed_states: Vec<String>,
}

/// An identity as a payload gives it: an object with `id`, or a `Name <unique name>` string.
#[derive(Debug, Default, PartialEq)]
struct Identity {
    id: Option<String>,
    unique_name: Option<String>,
    display_name: String,
}

fn identity(value: &Value) -> Option<Identity> {
    match value {
        Value::Object(fields) => {
            let text = |key: &str| {
                fields
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|text| !text.is_empty())
                    .map(str::to_owned)
            };
            Some(Identity {
                id: text("id"),
                unique_name: text("uniqueName"),
                display_name: text("displayName").unwrap_or_default(),
            })
        }
        Value::String(text) => {
            let text = text.trim();
            let parsed = text
                .strip_suffix('>')
                .and_then(|rest| rest.rsplit_once(" <"))
                .map(|(display, unique)| Identity {
                    id: None,
                    unique_name: Some(unique.to_owned()),
                    display_name: display.to_owned(),
                });
            Some(parsed.unwrap_or(Identity {
                id: None,
                unique_name: None,
                display_name: text.to_owned(),
            }))
        }
        _ => None,
    }
}

/// Turns an identity into an author, comparing by id and by unique name only without one.
fn author_of(
    context: &ParseContext<'_>,
    identity: Identity,
    event: &str,
) -> Result<Author, Rejection> {
    if let Some(id) = identity.id {
        return Ok(Author {
            id,
            name: identity.display_name,
        });
    }
    let Some(unique) = identity.unique_name else {
        return Err(Rejection::Malformed(format!(
            "{event} payload names its author {:?} with neither an identity id nor a unique name",
            identity.display_name
        )));
    };
    let by_proxy = context
        .proxy
        .is_some_and(|proxy| proxy.name.eq_ignore_ascii_case(&unique));
    Ok(Author {
        id: match context.proxy {
            Some(proxy) if by_proxy => proxy.id.clone(),
            _ => unique,
        },
        name: identity.display_name,
    })
}

fn field_str<'a>(fields: &'a Value, name: &str) -> &'a str {
    fields.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn split_tags(tags: &str) -> Vec<String> {
    tags.split(';')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_webhook(
    context: &ParseContext<'_>,
    request: &InboundRequest,
) -> Result<Parsed, Rejection> {
    let json: Value = serde_json::from_slice(&request.body)
        .map_err(|error| Rejection::not_payload(format!("body is not JSON: {error}")))?;
    let event = json
        .get("eventType")
        .and_then(Value::as_str)
        .ok_or_else(|| Rejection::not_payload("missing field `eventType`"))?
        .to_owned();
    let mut parsed = Parsed {
        delivery_id: json.get("id").and_then(Value::as_str).map(str::to_owned),
        event_name: event.clone(),
        ..Parsed::default()
    };
    if !["workitem.created", "workitem.updated", "workitem.commented"].contains(&event.as_str()) {
        parsed.ignored = Some(format!("event type {event} is not synced"));
        return Ok(parsed);
    }
    let resource = json
        .get("resource")
        .filter(|resource| resource.is_object())
        .ok_or_else(|| {
            Rejection::Malformed(format!(
                "{event} payload has no resource: set the subscription's resource details to send to All"
            ))
        })?;
    let malformed = |what: &str| Rejection::Malformed(format!("{event} payload has no {what}"));

    let (id, current, change, author) = if event == "workitem.updated" {
        let id = resource
            .get("workItemId")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("resource.workItemId"))?;
        let current = resource
            .pointer("/revision/fields")
            .ok_or_else(|| malformed("resource.revision.fields"))?;
        let actor = resource
            .get("revisedBy")
            .or_else(|| current.get("System.ChangedBy"))
            .and_then(identity)
            .ok_or_else(|| malformed("resource.revisedBy"))?;
        let author = author_of(context, actor, &event)?;
        let Some(change) = update_change(resource.get("fields").unwrap_or(&Value::Null)) else {
            parsed.ignored = Some(format!("{event} changed no synced field"));
            return Ok(parsed);
        };
        (id, current, change, author)
    } else {
        let id = resource
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("resource.id"))?;
        let current = resource
            .get("fields")
            .ok_or_else(|| malformed("resource.fields"))?;
        let actor = current
            .get("System.ChangedBy")
            .or_else(|| current.get("System.CreatedBy"))
            .and_then(identity)
            .ok_or_else(|| malformed("System.ChangedBy"))?;
        let author = author_of(context, actor, &event)?;
        let change = if event == "workitem.created" {
            Change::IssueCreated
        } else {
            let comment_id = resource
                .pointer("/commentVersionRef/commentId")
                .and_then(Value::as_u64)
                .map(|id| id.to_string())
                .or_else(|| resource.get("rev").map(|rev| format!("rev-{rev}")))
                .ok_or_else(|| malformed("resource.commentVersionRef.commentId"))?;
            Change::CommentCreated {
                comment: CommentContent {
                    id: comment_id,
                    body: proxysync_formats::html_to_markdown(field_str(current, "System.History")),
                    author: author.clone(),
                },
            }
        };
        (id, current, change, author)
    };

    let project = field_str(current, "System.TeamProject").to_owned();
    if project.is_empty() {
        return Err(malformed("System.TeamProject field"));
    }
    let state = field_str(current, "System.State");
    let closed = context
        .closed_states
        .iter()
        .any(|closed| closed.eq_ignore_ascii_case(state));
    let at_ms = parse_rfc3339_ms(field_str(current, "System.ChangedDate"))
        .or_else(|| {
            json.get("createdDate")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339_ms)
        })
        .unwrap_or_else(now_ms);
    parsed.events.push(ChangeEvent {
        kind: event,
        tracker: TrackerKind::AzureDevops,
        instance: context.instance.to_owned(),
        issue: work_item_ref(context.base_url, &project, id),
        project,
        content: IssueContent {
            title: field_str(current, "System.Title").to_owned(),
            body: proxysync_formats::html_to_markdown(field_str(current, "System.Description")),
            state: if closed {
                IssueState::Closed
            } else {
                IssueState::Open
            },
            labels: split_tags(field_str(current, "System.Tags")),
        },
        author,
        at_ms,
        change,
    });
    Ok(parsed)
}

/// Reads the changed fields of an update (`{field: {oldValue, newValue}}`).
fn update_change(changes: &Value) -> Option<Change> {
    let mut fields = Vec::new();
    let mut labels_added = Vec::new();
    let mut labels_removed = Vec::new();
    if changes.get("System.Title").is_some() {
        fields.push(Field::Title);
    }
    if changes.get("System.Description").is_some() {
        fields.push(Field::Body);
    }
    if changes.get("System.State").is_some() {
        fields.push(Field::State);
    }
    if let Some(tags) = changes.get("System.Tags") {
        fields.push(Field::Labels);
        let before = split_tags(
            tags.get("oldValue")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let after = split_tags(
            tags.get("newValue")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        labels_added.extend(after.iter().filter(|tag| !before.contains(tag)).cloned());
        labels_removed.extend(before.iter().filter(|tag| !after.contains(tag)).cloned());
    }
    (!fields.is_empty()).then_some(Change::IssueUpdated {
        fields,
        labels_added,
        labels_removed,
    })
}

fn work_item_ref(base_url: &str, project: &str, id: u64) -> IssueRef {
    IssueRef {
        key: format!("{project}#{id}"),
        id: id.to_string(),
        url: format!(
            "{}/{}/_workitems/edit/{id}",
            base_url.trim_end_matches('/'),
            urlencoding::encode(project)
        ),
    }
}

/// Splits a `{project}#{id}` key.
fn split_key(issue: &IssueRef) -> Result<(&str, &str), TargetError> {
    issue
        .key
        .rsplit_once('#')
        .filter(|(project, id)| !project.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| {
            TargetError::Refused(format!(
                "invalid Azure DevOps work item key {:?}: expected project#id",
                issue.key
            ))
        })
}

fn bad_response(method: &str, path: &str, message: &str) -> TargetError {
    TargetError::BadResponse {
        tracker: TrackerKind::AzureDevops,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn state_for(project: &Endpoint, state: IssueState) -> &str {
    match state {
        IssueState::Closed => project
            .closed_status
            .as_deref()
            .unwrap_or(DEFAULT_CLOSED_STATE),
        IssueState::Open => project.open_status.as_deref().unwrap_or(DEFAULT_OPEN_STATE),
    }
}

fn set_field(field: &str, value: Value) -> Value {
    json!({"op": "add", "path": format!("/fields/{field}"), "value": value})
}

fn item_path(id: &str) -> String {
    format!("/_apis/wit/workitems/{id}?{API_VERSION}")
}

fn comments_path(project: &str, id: &str) -> String {
    format!(
        "/{}/_apis/wit/workItems/{id}/comments",
        urlencoding::encode(project)
    )
}

async fn patch_item(api: &Api, id: &str, operations: Vec<Value>) -> Result<Value, TargetError> {
    api.send_as(
        Method::PATCH,
        &item_path(id),
        Some(&Value::Array(operations)),
        Some(JSON_PATCH),
    )
    .await
}

/// Evaluates one permission bit of the proxy user; true when granted.
async fn has_permission(api: &Api, namespace: &str, token: &str) -> Result<bool, TargetError> {
    let path = format!(
        "/_apis/permissions/{namespace}/2?tokens={}&{API_VERSION}",
        urlencoding::encode(token)
    );
    let answer = api.get(&path).await?;
    Ok(answer
        .pointer("/value/0")
        .and_then(Value::as_bool)
        .unwrap_or(false))
}

fn check(name: String, result: Result<bool, TargetError>, missing: String) -> PreflightCheck {
    match result {
        Ok(true) => PreflightCheck {
            name,
            ok: true,
            detail: "granted".to_owned(),
        },
        Ok(false) => PreflightCheck {
            name,
            ok: false,
            detail: missing,
        },
        Err(error) => PreflightCheck {
            name,
            ok: false,
            detail: format!("could not evaluate the permission: {error}"),
        },
    }
}

#[async_trait]
impl Target for AzureDevops {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let path = "/_apis/connectionData";
        let data = api.get(path).await?;
        let user = data
            .get("authenticatedUser")
            .ok_or_else(|| bad_response("GET", path, "no authenticatedUser"))?;
        let id = user
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_response("GET", path, "no authenticatedUser.id"))?;
        // The unique name, compared with authors whose identity id is absent.
        let name = user
            .pointer("/properties/Account/$value")
            .or_else(|| user.get("providerDisplayName"))
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
        let kind = project.issue_type.as_deref().unwrap_or(DEFAULT_ISSUE_TYPE);
        let path = format!(
            "/{}/_apis/wit/workitems/${}?{API_VERSION}",
            urlencoding::encode(&project.project),
            urlencoding::encode(kind)
        );
        let mut operations = vec![
            set_field("System.Title", json!(content.title)),
            set_field(
                "System.Description",
                json!(proxysync_formats::markdown_to_html(&content.body)),
            ),
        ];
        if !content.labels.is_empty() {
            operations.push(set_field("System.Tags", json!(content.labels.join("; "))));
        }
        let created = api
            .send_as(
                Method::POST,
                &path,
                Some(&Value::Array(operations)),
                Some(JSON_PATCH),
            )
            .await?;
        let id = created
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_response("POST", &path, "created work item has no id"))?;
        let issue = work_item_ref(api.base_url(), &project.project, id);
        // A new work item starts in its type's first state, so closing is a second change.
        if content.state == IssueState::Closed {
            let state = state_for(project, IssueState::Closed);
            patch_item(
                api,
                &issue.id,
                vec![set_field("System.State", json!(state))],
            )
            .await?;
        }
        Ok(issue)
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        let (_, id) = split_key(issue)?;
        let mut operations = Vec::new();
        if let Some(title) = &update.title {
            operations.push(set_field("System.Title", json!(title)));
        }
        if let Some(body) = &update.body {
            operations.push(set_field(
                "System.Description",
                json!(proxysync_formats::markdown_to_html(body)),
            ));
        }
        if let Some(state) = update.state {
            operations.push(set_field("System.State", json!(state_for(project, state))));
        }
        if !update.labels_add.is_empty() || !update.labels_remove.is_empty() {
            let current = api
                .get(&format!("{}&fields=System.Tags", item_path(id)))
                .await?;
            let mut tags = split_tags(
                current
                    .pointer("/fields/System.Tags")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
            for label in &update.labels_add {
                if !tags.iter().any(|tag| tag.eq_ignore_ascii_case(label)) {
                    tags.push(label.clone());
                }
            }
            tags.retain(|tag| {
                !update
                    .labels_remove
                    .iter()
                    .any(|label| label.eq_ignore_ascii_case(tag))
            });
            operations.push(set_field("System.Tags", json!(tags.join("; "))));
        }
        if operations.is_empty() {
            return Ok(());
        }
        patch_item(api, id, operations).await.map(drop)
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        let (project, id) = split_key(issue)?;
        let path = format!("{}?{COMMENTS_API_VERSION}", comments_path(project, id));
        let created = api
            .post(
                &path,
                &json!({"text": proxysync_formats::markdown_to_html(body)}),
            )
            .await?;
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
        let (project, id) = split_key(issue)?;
        let path = format!(
            "{}/{comment_id}?{COMMENTS_API_VERSION}",
            comments_path(project, id)
        );
        api.patch(
            &path,
            &json!({"text": proxysync_formats::markdown_to_html(body)}),
        )
        .await
        .map(drop)
    }

    async fn delete_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        let (project, id) = split_key(issue)?;
        let path = format!(
            "{}/{comment_id}?{COMMENTS_API_VERSION}",
            comments_path(project, id)
        );
        match api.delete(&path).await {
            Err(error) if error.status() == Some(404) => Ok(()),
            other => other.map(drop),
        }
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        let (_, id) = split_key(issue)?;
        let relation = json!({
            "op": "add",
            "path": "/relations/-",
            "value": {
                "rel": "Hyperlink",
                "url": peer.issue.url,
                "attributes": {"comment": format!("{} {} (proxysync)", peer.tracker, peer.issue.key)},
            },
        });
        patch_item(api, id, vec![relation]).await.map(drop)
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        split_key(issue).is_ok_and(|(name, _)| name == project.project)
    }

    fn dry_run_response(&self, method: &str, path: &str, _body: Option<&Value>) -> Value {
        match method {
            "POST" if path.contains("/_apis/wit/workitems/$") => json!({"id": 0}),
            "POST" if path.contains("/comments") => json!({"id": 0}),
            "GET" if path.starts_with("/_apis/connectionData") => {
                json!({"authenticatedUser": {"id": "(dry run)"}})
            }
            _ => json!({}),
        }
    }

    /// Checks that the proxy user has the permissions of Project Collection Administrators, and
    /// of Project Administrators in each project of the instance option `projects`.
    async fn preflight(&self, api: &Api, instance: &Instance) -> Vec<PreflightCheck> {
        let mut checks = vec![check(
            "member of Project Collection Administrators".to_owned(),
            has_permission(api, COLLECTION_NAMESPACE, "NAMESPACE:").await,
            "add the proxy user to Project Collection Administrators in Organization settings \
             > Permissions"
                .to_owned(),
        )];
        let projects: Vec<&str> = instance
            .options
            .get("projects")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for project in projects {
            let name = format!("Project Administrator in {project}");
            let path = format!(
                "/_apis/projects/{}?{API_VERSION}",
                urlencoding::encode(project)
            );
            let result = match api.get(&path).await {
                Ok(answer) => match answer.get("id").and_then(Value::as_str) {
                    Some(id) => {
                        let token = format!("$PROJECT:vstfs:///Classification/TeamProject/{id}");
                        has_permission(api, PROJECT_NAMESPACE, &token).await
                    }
                    None => Err(bad_response("GET", &path, "the project has no id")),
                },
                Err(error) => Err(error),
            };
            let missing = format!(
                "add the proxy user to the Project Administrators group of {project} in Project \
                 settings > Permissions"
            );
            checks.push(check(name, result, missing));
        }
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> InboundRequest {
        let encoded = BASE64.encode(format!("{user}:{password}"));
        InboundRequest {
            headers: vec![("authorization".to_owned(), format!("Basic {encoded}"))],
            ..InboundRequest::default()
        }
    }

    #[test]
    fn basic_auth_with_user_and_password() {
        let secret = SecretString::from("hook:s3cret");
        assert_eq!(
            AzureDevops.verify(&basic("hook", "s3cret"), &secret),
            Ok(())
        );
        assert_eq!(
            AzureDevops.verify(&basic("other", "s3cret"), &secret),
            Err(Rejection::BadSignature(AUTH_LABEL))
        );
    }

    #[test]
    fn basic_auth_with_password_only() {
        let secret = SecretString::from("s3cret");
        assert_eq!(
            AzureDevops.verify(&basic("anyone", "s3cret"), &secret),
            Ok(())
        );
        assert!(
            AzureDevops
                .verify(&basic("anyone", "wrong"), &secret)
                .is_err()
        );
    }

    #[test]
    fn missing_auth_rejected() {
        let secret = SecretString::from("s3cret");
        assert_eq!(
            AzureDevops.verify(&InboundRequest::default(), &secret),
            Err(Rejection::MissingSignature(AUTH_LABEL))
        );
    }

    #[test]
    fn identity_string_splits_unique_name() {
        let parsed = identity(&json!("Sample User <sample.user@example.com>")).unwrap();
        assert_eq!(
            parsed.unique_name.as_deref(),
            Some("sample.user@example.com")
        );
        assert_eq!(parsed.display_name, "Sample User");
        assert_eq!(parsed.id, None);
        let old = identity(&json!("Jamal Hartnett")).unwrap();
        assert_eq!(old.unique_name, None);
    }

    #[test]
    fn unique_name_matches_proxy_only_without_id() {
        let proxy = ProxyIdentity {
            id: "guid-1".to_owned(),
            name: "sync@example.com".to_owned(),
        };
        let context = ParseContext {
            instance: "ado",
            base_url: "",
            proxy: Some(&proxy),
            closed_states: Vec::new(),
        };
        let by_name = identity(&json!("Sync <SYNC@example.com>")).unwrap();
        assert_eq!(author_of(&context, by_name, "e").unwrap().id, "guid-1");
        let by_id = identity(&json!({"id": "guid-2", "uniqueName": "sync@example.com"})).unwrap();
        assert_eq!(author_of(&context, by_id, "e").unwrap().id, "guid-2");
    }

    #[test]
    fn key_names_project() {
        let issue = work_item_ref("https://dev.azure.com/acme", "Web Shop", 13);
        assert_eq!(issue.key, "Web Shop#13");
        assert_eq!(
            issue.url,
            "https://dev.azure.com/acme/Web%20Shop/_workitems/edit/13"
        );
        assert_eq!(split_key(&issue).unwrap(), ("Web Shop", "13"));
    }
}
