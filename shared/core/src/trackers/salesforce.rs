//! Salesforce: Outbound Messages (SOAP) in, the REST sObject API out.
//!
//! A workflow rule or flow sends an Outbound Message with up to 100 notifications, each
//! carrying the fields its definition selects. Outbound Messages are not signed, so a request
//! must pass three checks. The endpoint URL's `token` query parameter equals the secret's
//! `webhook_secret`. Its `OrganizationId` is the instance's org (option `organization_id`,
//! 15 or 18 characters). Every notification's sObject type is listed in the option
//! `sobject_types` (default `Case`). The answer is the SOAP acknowledgement once every
//! notification is synced, skipped or parked, and a SOAP fault otherwise, so Salesforce keeps
//! redelivering the message for up to 24 hours.
//!
//! Salesforce regroups the notifications it redelivers, so one notification can come back
//! inside a message with other notifications. The pipeline therefore claims each notification
//! under its own id (`notification:{id}`): one already applied counts as a duplicate within the
//! new message, and one that another delivery is still applying makes the response a SOAP
//! fault, so Salesforce delivers it again later.
//!
//! A connection endpoint's `project` is the sObject type (`Case`, or any type by
//! configuration). Issue ids are `{type}/{record id}`. Instance options: `api_version`
//! (default `60.0`), `title_field` (`Subject`), `body_field` (`Description`), `status_field`
//! (`Status`), `closed_statuses` (`["Closed"]`), `comment_object` (`CaseComment`, or
//! `FeedItem` for Chatter posts), `comment_published` (false: comments stay internal), and
//! `session_timeout_secs`, the org's session timeout, which the token refresher takes as the
//! access token's lifetime because Salesforce's token answer has no `expires_in`. Endpoint
//! settings: `closed_status` (default `Closed`), `open_status` (default `New`), and the option
//! `create_fields`, fixed fields of created records such as `{"Origin": "Web"}`.

pub mod soap;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    Author, Change, ChangeEvent, CommentContent, Endpoint, Field, Instance, IssueContent, IssueRef,
    IssueState, ProxyIdentity, TrackerKind,
};
use crate::options::{InstanceOption, OptionKind};
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, PreflightCheck, RawResponse,
    Source, Target, TrackerModule,
};
use crate::trackers::signature::secret_matches;
use soap::Notification;

/// The query parameter of the endpoint URL that carries the shared secret.
pub const TOKEN_PARAM: &str = "token";
const DEFAULT_API_VERSION: &str = "60.0";
const DEFAULT_CLOSED_STATUS: &str = "Closed";
const DEFAULT_OPEN_STATUS: &str = "New";
/// The org's session timeout when the instance does not set one: Salesforce's default, 2 hours.
pub const DEFAULT_SESSION_TIMEOUT_SECS: i64 = 7200;
/// sObject types whose records are comments on a Case rather than issues.
const COMMENT_TYPES: [&str; 2] = ["CaseComment", "FeedItem"];

/// The instance options Salesforce reads, besides those of [`crate::oauth`].
pub const INSTANCE_OPTIONS: &[InstanceOption] = &[
    InstanceOption::new("organization_id", OptionKind::Text),
    InstanceOption::new("sobject_types", OptionKind::TextListOrCommaText),
    InstanceOption::new("session_timeout_secs", OptionKind::WholeNumber),
    InstanceOption::new("api_version", OptionKind::Text),
    InstanceOption::new("title_field", OptionKind::Text),
    InstanceOption::new("body_field", OptionKind::Text),
    InstanceOption::new("status_field", OptionKind::Text),
    InstanceOption::new("closed_statuses", OptionKind::TextListOrCommaText),
    InstanceOption::new(
        "comment_object",
        OptionKind::OneOf(&["CaseComment", "FeedItem"]),
    ),
    InstanceOption::new("comment_published", OptionKind::Boolean),
];

/// The Salesforce tracker module.
pub struct Salesforce;

impl TrackerModule for Salesforce {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"client_id": "...", "client_secret": "...", "refresh_token": "...", "webhook_secret": "..."}"#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        if credentials.refresh_token.is_none() {
            return Err("the secret has no \"refresh_token\" field: store the connected app's client_id, client_secret and the proxy user's refresh_token".to_owned());
        }
        let token = credentials.access_token.clone().ok_or(
            "the secret has no \"access_token\" field: run the token refresher (or `proxysync instance add`) to fetch one",
        )?;
        Ok(Auth::Bearer(token))
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }

    fn respond(&self, status: u16, body: &Value) -> RawResponse {
        let body = if matches!(status, 200 | 202) {
            soap::ack()
        } else {
            let message = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the notifications were not handled; redeliver them");
            soap::fault(status < 500, message)
        };
        RawResponse {
            status,
            content_type: "text/xml; charset=utf-8",
            body,
        }
    }
}

/// Checks the Salesforce options of an instance, as `proxysync instance add` does.
///
/// # Errors
/// A message naming the invalid or missing option.
pub fn check_options(options: &Map<String, Value>) -> Result<(), String> {
    match options.get("organization_id").and_then(Value::as_str) {
        Some(id)
            if matches!(id.len(), 15 | 18) && id.chars().all(|c| c.is_ascii_alphanumeric()) => {}
        Some(id) => {
            return Err(format!(
                "invalid option organization_id={id:?}: expected the org's 15- or 18-character id (Setup > Company Information)"
            ));
        }
        None => {
            return Err("missing option organization_id: set it to the org's id (Setup > Company Information), so messages from other orgs are rejected".to_owned());
        }
    }
    for name in sobject_types(options) {
        if !valid_name(&name) {
            return Err(format!(
                "invalid sObject type {name:?} in option sobject_types: expected an API name such as Case or Ticket__c"
            ));
        }
    }
    if let Some(value) = options.get("session_timeout_secs")
        && value.as_i64().is_none_or(|secs| secs <= 0)
    {
        return Err(format!(
            "invalid option session_timeout_secs={value}: expected the org's session timeout in seconds, such as 7200"
        ));
    }
    Ok(())
}

/// The sObject types the instance accepts: the option `sobject_types` as a list or a
/// comma-separated string, `Case` by default.
pub fn sobject_types(options: &Map<String, Value>) -> Vec<String> {
    let names: Vec<String> = match options.get("sobject_types") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => Vec::new(),
    };
    let names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        vec!["Case".to_owned()]
    } else {
        names
    }
}

fn text_option<'a>(options: &'a Map<String, Value>, name: &str, default: &'a str) -> &'a str {
    options
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .unwrap_or(default)
}

/// Compares two record ids: Salesforce ids are 15 characters, case-sensitive, or 18 with a
/// case-insensitive checksum suffix, so the first 15 characters decide.
pub fn same_id(a: &str, b: &str) -> bool {
    let short = |id: &str| id.get(..15).unwrap_or(id).to_owned();
    a.len() >= 15 && b.len() >= 15 && short(a) == short(b)
}

impl Source for Salesforce {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        match request.query_param(TOKEN_PARAM) {
            Some(token) if secret_matches(token, secret) => Ok(()),
            Some(_) => Err(Rejection::BadSignature("the token query parameter")),
            None => Err(Rejection::MissingSignature(
                "the token query parameter of the outbound message's endpoint URL",
            )),
        }
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        let envelope = soap::parse(&request.body).map_err(Rejection::not_payload)?;
        let defaults = Instance {
            id: instance.to_owned(),
            tracker: TrackerKind::Salesforce,
            base_url: String::new(),
            secret: String::new(),
            proxy: None,
            options: Map::new(),
        };
        events_of(&defaults, &envelope)
    }

    fn parse_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
    ) -> Result<Parsed, Rejection> {
        let envelope = soap::parse(&request.body).map_err(Rejection::not_payload)?;
        let expected = instance
            .options
            .get("organization_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !same_id(&envelope.organization_id, expected) {
            return Err(Rejection::WrongOrganization {
                received: envelope.organization_id.clone(),
                instance: instance.id.clone(),
            });
        }
        events_of(instance, &envelope)
    }
}

/// Turns every notification of `envelope` into a change event of `instance`.
fn events_of(instance: &Instance, envelope: &soap::Envelope) -> Result<Parsed, Rejection> {
    let accepted = sobject_types(&instance.options);
    let mut ids: Vec<&str> = envelope
        .notifications
        .iter()
        .map(|n| n.id.as_str())
        .collect();
    ids.sort_unstable();
    let mut parsed = Parsed {
        delivery_id: delivery_id(&ids),
        event_name: "notifications".to_owned(),
        ..Parsed::default()
    };
    for notification in &envelope.notifications {
        if !accepted.contains(&notification.sobject_type) {
            return Err(Rejection::Malformed(format!(
                "sObject type {:?} is not configured for instance {}: add it to the instance option \
                 sobject_types (now {}), or remove it from the outbound message",
                notification.sobject_type,
                instance.id,
                accepted.join(", ")
            )));
        }
        parsed.events.push(event_of(instance, notification)?);
        parsed
            .event_ids
            .push(format!("notification:{}", notification.id));
    }
    if parsed.events.is_empty() {
        parsed.ignored = Some("the outbound message has no notifications".to_owned());
    }
    Ok(parsed)
}

/// One notification's id, or a digest of all ids, for logs and the response. Claims use each
/// notification's own id (`Parsed::event_ids`), since a redelivery may regroup them.
fn delivery_id(ids: &[&str]) -> Option<String> {
    match ids {
        [] => None,
        [one] => Some(format!("notification:{one}")),
        many => {
            let digest = Sha256::digest(many.join(",").as_bytes());
            Some(format!("notifications:{}", hex::encode(&digest[..16])))
        }
    }
}

fn required<'a>(notification: &'a Notification, name: &str) -> Result<&'a str, Rejection> {
    notification
        .field(name)
        .filter(|value| !value.trim().is_empty())
        .map(str::trim)
        .ok_or_else(|| {
            Rejection::Malformed(format!(
                "notification {} ({}) has no {name} field: select {name} in the outbound message's fields \
                 (infra/salesforce/README.md lists the fields proxysync needs)",
                notification.id, notification.sobject_type
            ))
        })
}

fn event_of(instance: &Instance, notification: &Notification) -> Result<ChangeEvent, Rejection> {
    let options = &instance.options;
    let record_id = required(notification, "Id")?;
    let author_id = required(notification, "LastModifiedById")?;
    let modified = required(notification, "LastModifiedDate")?;
    let at_ms = parse_datetime(modified).ok_or_else(|| {
        Rejection::Malformed(format!(
            "invalid LastModifiedDate {modified:?} in notification {}: expected an ISO 8601 time such as 2024-05-02T10:15:00.000Z",
            notification.id
        ))
    })?;
    // The proxy's id comes from userinfo with 18 characters; a message may carry 15.
    let author_id = match &instance.proxy {
        Some(proxy) if same_id(&proxy.id, author_id) => proxy.id.clone(),
        _ => author_id.to_owned(),
    };
    let author = Author {
        id: author_id.clone(),
        name: author_id,
    };
    let created = notification
        .field("CreatedDate")
        .is_some_and(|at| at == modified);
    let base = instance.base_url.trim_end_matches('/');
    let kind = notification.sobject_type.as_str();

    if COMMENT_TYPES.contains(&kind) {
        let parent = required(notification, "ParentId")?;
        let body = notification
            .field("CommentBody")
            .or_else(|| notification.field("Body"))
            .unwrap_or_default();
        let comment = CommentContent {
            id: format!("{kind}/{record_id}"),
            body: body.to_owned(),
            author: author.clone(),
        };
        let change = if created {
            Change::CommentCreated { comment }
        } else {
            Change::CommentUpdated { comment }
        };
        return Ok(ChangeEvent {
            kind: format!("{kind}.{}", if created { "created" } else { "updated" }),
            tracker: TrackerKind::Salesforce,
            instance: instance.id.clone(),
            project: "Case".to_owned(),
            issue: IssueRef {
                key: parent.to_owned(),
                id: format!("Case/{parent}"),
                url: format!("{base}/{parent}"),
            },
            content: IssueContent {
                title: String::new(),
                body: String::new(),
                state: IssueState::Open,
                labels: Vec::new(),
            },
            author,
            at_ms,
            change,
        });
    }

    let title_field = text_option(options, "title_field", "Subject");
    let body_field = text_option(options, "body_field", "Description");
    let status_field = text_option(options, "status_field", "Status");
    let mut fields = Vec::new();
    if notification.field(title_field).is_some() {
        fields.push(Field::Title);
    }
    if notification.field(body_field).is_some() {
        fields.push(Field::Body);
    }
    let closed = match notification.field("IsClosed") {
        Some(flag) => flag == "true",
        None => notification
            .field(status_field)
            .is_some_and(|status| closed_statuses(options).iter().any(|s| s == status)),
    };
    if notification.field(status_field).is_some() || notification.field("IsClosed").is_some() {
        fields.push(Field::State);
    }
    let content = IssueContent {
        title: notification
            .field(title_field)
            .unwrap_or_default()
            .to_owned(),
        body: notification
            .field(body_field)
            .unwrap_or_default()
            .to_owned(),
        state: if closed {
            IssueState::Closed
        } else {
            IssueState::Open
        },
        labels: Vec::new(),
    };
    let change = if created {
        Change::IssueCreated
    } else {
        Change::IssueUpdated {
            fields,
            labels_added: Vec::new(),
            labels_removed: Vec::new(),
        }
    };
    let key = notification
        .field("CaseNumber")
        .filter(|number| !number.is_empty())
        .unwrap_or(record_id);
    Ok(ChangeEvent {
        kind: format!("{kind}.{}", if created { "created" } else { "updated" }),
        tracker: TrackerKind::Salesforce,
        instance: instance.id.clone(),
        project: kind.to_owned(),
        issue: IssueRef {
            key: key.to_owned(),
            id: format!("{kind}/{record_id}"),
            url: format!("{base}/{record_id}"),
        },
        content,
        author,
        at_ms,
        change,
    })
}

fn closed_statuses(options: &Map<String, Value>) -> Vec<String> {
    match options.get("closed_statuses") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => vec![DEFAULT_CLOSED_STATUS.to_owned()],
    }
}

/// Parses Salesforce's `2024-05-02T10:15:00.000Z` into epoch milliseconds.
fn parse_datetime(text: &str) -> Option<i64> {
    let parsed =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn data_path(api: &Api, rest: &str) -> String {
    let version = text_option(api.options(), "api_version", DEFAULT_API_VERSION);
    format!("/services/data/v{version}{rest}")
}

/// The sObject type and record id of an issue id `{type}/{id}`.
fn split_id(id: &str) -> Result<(&str, &str), TargetError> {
    match id.split_once('/') {
        Some((kind, record)) if valid_name(kind) && valid_name(record) => Ok((kind, record)),
        _ => Err(TargetError::Refused(format!(
            "invalid Salesforce id {id:?}: expected sObjectType/recordId"
        ))),
    }
}

fn status_value(endpoint: &Endpoint, state: IssueState) -> String {
    match state {
        IssueState::Closed => endpoint
            .closed_status
            .as_deref()
            .unwrap_or(DEFAULT_CLOSED_STATUS),
        IssueState::Open => endpoint
            .open_status
            .as_deref()
            .unwrap_or(DEFAULT_OPEN_STATUS),
    }
    .to_owned()
}

fn comment_object(api: &Api) -> &'static str {
    match api.options().get("comment_object").and_then(Value::as_str) {
        Some("FeedItem") => "FeedItem",
        _ => "CaseComment",
    }
}

fn comment_field(object: &str) -> &'static str {
    if object == "FeedItem" {
        "Body"
    } else {
        "CommentBody"
    }
}

fn bad_response(method: &str, path: &str, message: &str) -> TargetError {
    TargetError::BadResponse {
        tracker: TrackerKind::Salesforce,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn created_id(answer: &Value, path: &str) -> Result<String, TargetError> {
    answer
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| valid_name(id))
        .map(str::to_owned)
        .ok_or_else(|| bad_response("POST", path, "the answer has no record id"))
}

#[async_trait]
impl Target for Salesforce {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let path = "/services/oauth2/userinfo";
        let answer = api.get(path).await?;
        let id = answer
            .get("user_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_response("GET", path, "the answer has no user_id"))?;
        let name = answer
            .get("preferred_username")
            .or_else(|| answer.get("name"))
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
        let kind = project.project.as_str();
        if !valid_name(kind) {
            return Err(TargetError::Refused(format!(
                "invalid sObject type {kind:?} as the project of a Salesforce endpoint: expected an API name such as Case"
            )));
        }
        let options = api.options();
        let mut fields = match project.options.get("create_fields") {
            Some(Value::Object(fixed)) => fixed.clone(),
            _ => Map::new(),
        };
        fields.insert(
            text_option(options, "title_field", "Subject").to_owned(),
            json!(content.title),
        );
        fields.insert(
            text_option(options, "body_field", "Description").to_owned(),
            json!(content.body),
        );
        fields.insert(
            text_option(options, "status_field", "Status").to_owned(),
            json!(status_value(project, content.state)),
        );
        let path = data_path(api, &format!("/sobjects/{kind}/"));
        let answer = api.post(&path, &Value::Object(fields)).await?;
        let id = created_id(&answer, &path)?;
        Ok(IssueRef {
            key: id.clone(),
            id: format!("{kind}/{id}"),
            url: format!("{}/{id}", api.base_url()),
        })
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        let (kind, record) = split_id(&issue.id)?;
        let options = api.options();
        let mut fields = Map::new();
        if let Some(title) = &update.title {
            fields.insert(
                text_option(options, "title_field", "Subject").to_owned(),
                json!(title),
            );
        }
        if let Some(body) = &update.body {
            fields.insert(
                text_option(options, "body_field", "Description").to_owned(),
                json!(body),
            );
        }
        if let Some(state) = update.state {
            fields.insert(
                text_option(options, "status_field", "Status").to_owned(),
                json!(status_value(project, state)),
            );
        }
        if fields.is_empty() {
            return Ok(());
        }
        let path = data_path(api, &format!("/sobjects/{kind}/{record}"));
        api.patch(&path, &Value::Object(fields)).await?;
        Ok(())
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        let (_, record) = split_id(&issue.id)?;
        let object = comment_object(api);
        let mut fields = Map::new();
        fields.insert("ParentId".to_owned(), json!(record));
        fields.insert(comment_field(object).to_owned(), json!(body));
        if object == "CaseComment" {
            let published = api
                .options()
                .get("comment_published")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            fields.insert("IsPublished".to_owned(), json!(published));
        }
        let path = data_path(api, &format!("/sobjects/{object}/"));
        let answer = api.post(&path, &Value::Object(fields)).await?;
        Ok(format!("{object}/{}", created_id(&answer, &path)?))
    }

    async fn update_comment(
        &self,
        api: &Api,
        _issue: &IssueRef,
        comment_id: &str,
        body: &str,
    ) -> Result<(), TargetError> {
        let (object, record) = split_id(comment_id)?;
        let path = data_path(api, &format!("/sobjects/{object}/{record}"));
        api.patch(&path, &json!({comment_field(object): body}))
            .await?;
        Ok(())
    }

    async fn delete_comment(
        &self,
        api: &Api,
        _issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        let (object, record) = split_id(comment_id)?;
        let path = data_path(api, &format!("/sobjects/{object}/{record}"));
        match api.delete(&path).await {
            Err(error) if error.status() == Some(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        // Salesforce has no remote link on a record: a comment names the peer instead.
        let body = format!(
            "Linked with {} issue {}: {}",
            peer.tracker, peer.issue.key, peer.issue.url
        );
        self.add_comment(api, issue, &body).await.map(|_| ())
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        issue
            .id
            .split_once('/')
            .is_some_and(|(kind, _)| kind == project.project)
    }

    fn dry_run_response(&self, method: &str, path: &str, _body: Option<&Value>) -> Value {
        match method {
            "POST" => json!({"id": "000000000000000AAA", "success": true, "errors": []}),
            "GET" if path.ends_with("/userinfo") => {
                json!({"user_id": "(dry run)", "preferred_username": "(dry run)"})
            }
            _ => Value::Null,
        }
    }

    async fn preflight(&self, api: &Api, instance: &Instance) -> Vec<PreflightCheck> {
        let mut objects = sobject_types(&instance.options);
        objects.retain(|name| !COMMENT_TYPES.contains(&name.as_str()));
        objects.push(comment_object(api).to_owned());
        let mut checks = Vec::new();
        for object in objects {
            let path = data_path(api, &format!("/sobjects/{object}/describe"));
            let name = format!("sObject {object} create and update");
            let check = match api.send(Method::GET, &path, None).await {
                Ok(describe) => {
                    let flag = |key: &str| describe.get(key).and_then(Value::as_bool) == Some(true);
                    let comment = COMMENT_TYPES.contains(&object.as_str());
                    let ok = flag("createable") && (comment || flag("updateable"));
                    let detail = if ok {
                        "the proxy user may create and update these records".to_owned()
                    } else {
                        format!(
                            "the proxy user's profile or permission sets lack Create or Edit on {object}: grant both"
                        )
                    };
                    PreflightCheck { name, ok, detail }
                }
                Err(error) => PreflightCheck {
                    name,
                    ok: false,
                    detail: format!("could not describe {object}: {error}"),
                },
            };
            checks.push(check);
        }
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_on_first_15_characters() {
        assert!(same_id("005000000000002AAA", "005000000000002"));
        assert!(!same_id("005000000000002AAA", "005000000000003AAA"));
        assert!(!same_id("", ""));
    }

    #[test]
    fn sobject_types_default_to_case() {
        assert_eq!(sobject_types(&Map::new()), vec!["Case"]);
        let mut options = Map::new();
        options.insert("sobject_types".to_owned(), json!("Case, Ticket__c"));
        assert_eq!(sobject_types(&options), vec!["Case", "Ticket__c"]);
    }

    #[test]
    fn options_need_organization_id() {
        let error = check_options(&Map::new()).unwrap_err();
        assert!(error.contains("organization_id"), "{error}");
        let mut options = Map::new();
        options.insert("organization_id".to_owned(), json!("00D000000000042"));
        assert!(check_options(&options).is_ok());
        options.insert("session_timeout_secs".to_owned(), json!(0));
        assert!(check_options(&options).is_err());
    }

    #[test]
    fn ack_only_for_handled_answers() {
        let ok = Salesforce.respond(202, &json!({"outcome": "parked"}));
        assert!(ok.body.contains("<Ack>true</Ack>"), "{}", ok.body);
        let failed = Salesforce.respond(503, &json!({"message": "DynamoDB unreachable"}));
        assert!(failed.body.contains("soapenv:Server"), "{}", failed.body);
        assert!(
            failed.body.contains("DynamoDB unreachable"),
            "{}",
            failed.body
        );
        assert_eq!(failed.content_type, "text/xml; charset=utf-8");
    }
}
