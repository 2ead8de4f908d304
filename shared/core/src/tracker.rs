//! The contract between the pipeline and each tracker module.
//!
//! A tracker plugs in with two halves. [`Source`] turns what the tracker sends
//! (a signed JSON webhook, a SOAP envelope, or a page of polled changes) into
//! [`ChangeEvent`]s. [`Target`] applies tracker-neutral operations as the
//! proxy user, whatever the wire format (JSON, JSON Patch, SOAP). The pipeline
//! only sees these two traits, so a new tracker adds a module and a line in
//! [`crate::trackers::module`].

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;

use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    ChangeEvent, Endpoint, Instance, IssueContent, IssueRef, IssueState, ProxyIdentity,
};
use crate::options::InstanceOption;

/// The parts of an inbound HTTP request that the pipeline needs.
#[derive(Clone, Debug, Default)]
pub struct InboundRequest {
    /// Header names in lower case, values as received.
    pub headers: Vec<(String, String)>,
    /// Query string parameters, decoded (a webhook URL may carry a secret token).
    pub query: Vec<(String, String)>,
    /// The raw body bytes, after any base64 decoding by API Gateway.
    pub body: Vec<u8>,
}

impl InboundRequest {
    /// Returns the first value of a header, matching its name without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns the first value of a query string parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An HTTP response in the form a tracker expects (JSON for most, SOAP for Salesforce).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// The result of parsing one inbound request.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The tracker's delivery id, stable across its retries.
    pub delivery_id: Option<String>,
    /// The tracker's name for the event, such as `issues.edited` or `ping`.
    pub event_name: String,
    pub events: Vec<ChangeEvent>,
    /// One delivery id per event, in the order of `events`, for trackers that redeliver an
    /// event inside a different batch (Salesforce regroups pending notifications into new
    /// messages). When set, the pipeline claims each event under its own id, so the event is
    /// applied once whichever batch carries it. When empty, the whole delivery is claimed
    /// under `delivery_id`.
    pub event_ids: Vec<String>,
    /// Set when the event type is valid but not one proxysync syncs.
    pub ignored: Option<String>,
}

/// Proxy credentials and webhook secret of one instance, as stored in Secrets Manager.
///
/// Each tracker uses the fields it needs and names a missing one in its error;
/// fields for other trackers are ignored.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Credentials {
    /// API token (GitHub personal access token, Jira API token, Azure DevOps PAT).
    #[serde(default, alias = "api_token")]
    pub token: Option<SecretString>,
    /// Account email for basic authentication with an API token (Jira Cloud, Zendesk).
    #[serde(default)]
    pub email: Option<String>,
    /// User name for basic or session sign-in (ServiceNow, Jira Data Center, HP ALM/QC).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// OAuth client id and secret, for trackers that refresh tokens.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// The current OAuth access token and its expiry in epoch seconds.
    #[serde(default)]
    pub access_token: Option<SecretString>,
    #[serde(default)]
    pub access_token_expires_at: Option<i64>,
    /// When the refresh token itself expires, in epoch seconds, when known.
    #[serde(default)]
    pub refresh_token_expires_at: Option<i64>,
    /// The secret the tracker signs webhooks with (or the shared token it sends).
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// The webhook secret before a rotation; it keeps verifying until the operator removes it.
    #[serde(default)]
    pub previous_webhook_secret: Option<SecretString>,
}

/// The authentication of outgoing requests.
#[derive(Clone, Debug)]
pub enum Auth {
    Bearer(SecretString),
    Basic {
        user: String,
        password: SecretString,
    },
    /// Headers that carry a session (cookies, an anti-forgery token); sent marked sensitive.
    Headers(Vec<(String, SecretString)>),
}

/// The issue on the other side that a target issue is linked with.
#[derive(Clone, Debug)]
pub struct Peer<'a> {
    pub tracker: &'a str,
    pub issue: &'a IssueRef,
}

/// Fields to change on an existing issue; `None` and empty lists leave a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub body: Option<String>,
    pub state: Option<IssueState>,
    pub labels_add: Vec<String>,
    pub labels_remove: Vec<String>,
}

impl IssueUpdate {
    /// Returns true when the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.body.is_none()
            && self.state.is_none()
            && self.labels_add.is_empty()
            && self.labels_remove.is_empty()
    }
}

/// The inbound half of a tracker: signature check and parsing.
pub trait Source: Send + Sync {
    /// Checks the request's signature against the instance's webhook secret.
    ///
    /// # Errors
    /// [`Rejection::MissingSignature`] or [`Rejection::BadSignature`].
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection>;

    /// Parses the body into change events of `instance`.
    ///
    /// # Errors
    /// [`Rejection::Malformed`] when the body is not the tracker's JSON shape.
    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection>;

    /// Checks the signature with the instance's settings at hand (a timestamp tolerance, a
    /// header name); the pipeline calls this, and the default is [`Source::verify`].
    ///
    /// # Errors
    /// As [`Source::verify`].
    fn verify_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
        secret: &SecretString,
    ) -> Result<(), Rejection> {
        let _ = instance;
        self.verify(request, secret)
    }

    /// Parses with the instance at hand, for trackers that need its proxy identity or
    /// settings to read an author; the pipeline calls this, and the default is [`Source::parse`].
    ///
    /// # Errors
    /// As [`Source::parse`].
    fn parse_for(
        &self,
        instance: &Instance,
        request: &InboundRequest,
    ) -> Result<Parsed, Rejection> {
        self.parse(&instance.id, request)
    }
}

/// The outbound half of a tracker: the operations the pipeline requests of a target, as the proxy user.
#[async_trait]
pub trait Target: Send + Sync {
    /// Returns the account that the credentials belong to.
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError>;

    /// Creates an issue in `project` and returns its reference.
    async fn create_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
    ) -> Result<IssueRef, TargetError>;

    /// Creates an issue in `project` for the `source` issue and returns its reference.
    ///
    /// Trackers that implement [`Target::find_created`] override this to record `source` on
    /// the new issue in a form that lookup finds. The default is [`Target::create_issue`].
    async fn create_issue_for(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
        source: &IssueRef,
    ) -> Result<IssueRef, TargetError> {
        let _ = source;
        self.create_issue(api, project, content).await
    }

    /// Searches `project` for issues that proxysync may have created for `source` at or after
    /// `since_ms` (epoch milliseconds) and returns them, newest first.
    ///
    /// The pipeline calls this before it replays a parked create, whose earlier attempt may
    /// have created the issue although its response was lost. The search never reads outside
    /// `project`.
    ///
    /// NOTE: the default finds nothing, so the replay creates the issue again. Jira Data
    /// Center, Azure DevOps, ServiceNow, Zendesk, Salesforce and HP ALM/QC use the default.
    ///
    /// # Errors
    /// The search failed.
    async fn find_created(
        &self,
        _api: &Api,
        _project: &Endpoint,
        _source: &IssueRef,
        _content: &IssueContent,
        _since_ms: i64,
    ) -> Result<Vec<IssueRef>, TargetError> {
        Ok(Vec::new())
    }

    /// Applies field changes to an existing issue.
    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError>;

    /// Adds a comment in Markdown and returns its id.
    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError>;

    /// Replaces a comment's body.
    async fn update_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
        body: &str,
    ) -> Result<(), TargetError>;

    /// Deletes a comment; a comment that is already gone counts as deleted.
    async fn delete_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError>;

    /// Records on `issue` where its linked peer lives (a remote link, or a comment).
    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError>;

    /// Returns true when `issue` belongs to `project`, so writes never leave a connected project.
    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool;

    /// Reads on the tracker, right before a write to the linked `issue`, whether it still
    /// belongs to `project`, and returns the reason when it does not. `None` lets the write go
    /// ahead.
    ///
    /// The default returns `None`, since [`Target::in_project`] has already checked the
    /// reference. Trackers whose references do not name the project, such as Zendesk tickets
    /// and their group, read the issue here.
    ///
    /// # Errors
    /// The read failed.
    async fn check_in_project(
        &self,
        _api: &Api,
        _project: &Endpoint,
        _issue: &IssueRef,
    ) -> Result<Option<String>, TargetError> {
        Ok(None)
    }

    /// The response a dry run pretends the tracker sent, so `explain` can plan without calling it.
    fn dry_run_response(&self, method: &str, path: &str, body: Option<&Value>) -> Value;

    /// Checks the permissions the proxy user needs on `instance`, for `proxysync doctor`.
    ///
    /// The default checks nothing beyond what `whoami` proves; trackers list their own.
    async fn preflight(&self, _api: &Api, _instance: &Instance) -> Vec<PreflightCheck> {
        Vec::new()
    }
}

/// One permission or setting that `proxysync doctor` checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PreflightCheck {
    /// What was checked, such as `permission EDIT_ISSUES`.
    pub name: String,
    pub ok: bool,
    /// What is missing and how to grant it, or what was found.
    pub detail: String,
}

/// A tracker module: its source, its target, and how its credentials sign requests.
pub trait TrackerModule: Send + Sync {
    fn source(&self) -> &dyn Source;
    fn target(&self) -> &dyn Target;

    /// Builds the authentication of outgoing requests from the instance's credentials.
    ///
    /// # Errors
    /// A message naming the missing secret field.
    fn auth(&self, credentials: &Credentials) -> Result<Auth, String>;

    /// Returns the instance options this tracker reads. [`crate::options::check_instance`]
    /// rejects any other key.
    fn instance_options(&self) -> &'static [InstanceOption] {
        &[]
    }

    /// Returns an example of the secret's JSON value, which the error on a secret of the wrong
    /// shape shows.
    fn secret_example(&self) -> &'static str;

    /// Headers every request to this tracker carries (API version, accept type).
    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Renders the pipeline's response in the form the tracker expects, JSON by default.
    fn respond(&self, status: u16, body: &Value) -> RawResponse {
        RawResponse {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}
