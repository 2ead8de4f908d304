//! OAuth access tokens kept fresh for trackers that sign in with a refresh token.
//!
//! A [`Provider`] names a tracker's token endpoint; everything else is shared, so a
//! new OAuth tracker adds one constant and one arm in [`provider`]. A refresh
//! posts `grant_type=refresh_token`, then writes the new access token, its
//! expiry and any rotated refresh token into the instance's secret as a new
//! version. At most one refresh of an instance runs at a time, across the
//! scheduled refresher and the webhook functions, through a lease in DynamoDB.
//! The old access token stays valid until its own expiry, so a reader that
//! still uses it during a refresh keeps working.
//!
//! Credentials that the tracker rejects (`invalid_grant`, `invalid_client`, or
//! a 401 from the token endpoint) mark the instance as needing an operator;
//! no refresh is tried again until the secret has a new version.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::error::{ConfigError, StoreError};
use crate::model::{Instance, TrackerKind};
use crate::options::{InstanceOption, OptionKind};
use crate::secrets::{SecretVersion, SecretWrite, Secrets};
use crate::store::{Lease, OperatorMark, Store};
use crate::time_util::now_ms;

/// The token endpoint of one tracker's OAuth sign-in.
#[derive(Clone, Copy, Debug)]
pub struct Provider {
    pub tracker: TrackerKind,
    /// The token endpoint's path under the instance's base URL. The instance
    /// option `token_url` replaces the whole URL when the endpoint lives elsewhere.
    pub token_path: &'static str,
    /// The instance option that contains the access token lifetime in seconds, for a
    /// provider whose token response has no `expires_in`. `None`: `expires_in` is required.
    pub lifetime_option: Option<&'static str>,
}

/// ServiceNow: `POST /oauth_token.do`, whose response has `expires_in` (1800 s by default).
pub const SERVICENOW: Provider = Provider {
    tracker: TrackerKind::Servicenow,
    token_path: "/oauth_token.do",
    lifetime_option: None,
};

/// Salesforce: `POST /services/oauth2/token`, answers without `expires_in`, so the instance
/// option `session_timeout_secs` (the org's session timeout) gives the token's lifetime.
pub const SALESFORCE: Provider = Provider {
    tracker: TrackerKind::Salesforce,
    token_path: "/services/oauth2/token",
    lifetime_option: Some("session_timeout_secs"),
};

/// The instance options the token refresher reads: `token_url`, which replaces the provider's
/// token path on `base_url`, and `refresh_token_lifetime_secs`, used when a token response
/// gives no refresh token lifetime.
pub const INSTANCE_OPTIONS: &[InstanceOption] = &[
    InstanceOption::new("token_url", OptionKind::Text),
    InstanceOption::new("refresh_token_lifetime_secs", OptionKind::WholeNumber),
];

/// Returns the OAuth provider of `kind`, or `None` when its trackers do not refresh tokens.
pub fn provider(kind: TrackerKind) -> Option<&'static Provider> {
    match kind {
        TrackerKind::Servicenow => Some(&SERVICENOW),
        TrackerKind::Salesforce => Some(&SALESFORCE),
        _ => None,
    }
}

/// Settings of the refresher, read once from the environment.
#[derive(Clone, Debug)]
pub struct RefreshSettings {
    /// Refresh when the access token expires within this margin
    /// (`PROXYSYNC_REFRESH_MARGIN_SECS`, default 900); keep it above the schedule period.
    pub margin: Duration,
    /// How long one refresh may hold an instance's lease (`PROXYSYNC_REFRESH_LEASE_SECS`, default 60).
    pub lease: Duration,
    /// How many instances refresh at once (`PROXYSYNC_REFRESH_CONCURRENCY`, default 16).
    pub concurrency: usize,
    /// Warn this long before a refresh token expires (`PROXYSYNC_REFRESH_WARN_DAYS`, default 7).
    pub warn_before: Duration,
    /// The maximum duration of one token request.
    pub request_timeout: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            margin: Duration::from_secs(15 * 60),
            lease: Duration::from_secs(60),
            concurrency: 16,
            warn_before: Duration::from_secs(7 * 24 * 3600),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl RefreshSettings {
    /// Reads the settings through `lookup`, such as `|name| std::env::var(name).ok()`.
    ///
    /// # Errors
    /// A message naming the invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(number) if number > 0 => Ok(number),
                    _ => Err(ConfigError(format!(
                        "invalid {name}={value:?}: expected a whole number above 0"
                    ))),
                },
            }
        };
        let defaults = RefreshSettings::default();
        Ok(RefreshSettings {
            margin: Duration::from_secs(number("PROXYSYNC_REFRESH_MARGIN_SECS", 900)?),
            lease: Duration::from_secs(number("PROXYSYNC_REFRESH_LEASE_SECS", 60)?),
            concurrency: usize::try_from(number("PROXYSYNC_REFRESH_CONCURRENCY", 16)?)
                .unwrap_or(16),
            warn_before: Duration::from_secs(number("PROXYSYNC_REFRESH_WARN_DAYS", 7)? * 86_400),
            request_timeout: defaults.request_timeout,
        })
    }
}

/// The OAuth fields of an instance secret.
#[derive(Clone)]
struct OAuthSecret {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    access_token: Option<String>,
    access_expires_at: Option<i64>,
    refresh_expires_at: Option<i64>,
}

/// Reads the OAuth fields of `value`, or returns `Ok(None)` when the secret is for another sign-in.
///
/// Errors name the secret and the field, never a value.
fn oauth_secret(secret_id: &str, value: &Value) -> Result<Option<OAuthSecret>, String> {
    let Some(fields) = value.as_object() else {
        return Err(format!(
            "secret {secret_id} is not a JSON object: store the credentials as {{\"field\": value}}"
        ));
    };
    if !fields.contains_key("refresh_token") && !fields.contains_key("client_id") {
        return Ok(None);
    }
    let text = |name: &str| -> Result<String, String> {
        match fields.get(name) {
            Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
            Some(_) => Err(format!(
                "secret {secret_id} has an invalid {name} field: it must be a non-empty string"
            )),
            None => Err(format!(
                "secret {secret_id} has no {name} field: OAuth sign-in needs client_id, client_secret and refresh_token"
            )),
        }
    };
    let epoch = |name: &str| -> Result<Option<i64>, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number.as_i64().map(Some).ok_or_else(|| {
                format!("secret {secret_id} has an invalid {name} field: it must be epoch seconds")
            }),
            Some(_) => Err(format!(
                "secret {secret_id} has an invalid {name} field: it must be epoch seconds as a number"
            )),
        }
    };
    let access_token = match fields.get("access_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) if !token.is_empty() => Some(token.clone()),
        Some(_) => {
            return Err(format!(
                "secret {secret_id} has an invalid access_token field: it must be a string"
            ));
        }
    };
    Ok(Some(OAuthSecret {
        client_id: text("client_id")?,
        client_secret: text("client_secret")?,
        refresh_token: text("refresh_token")?,
        access_token,
        access_expires_at: epoch("access_token_expires_at")?,
        refresh_expires_at: epoch("refresh_token_expires_at")?,
    }))
}

/// The outcome of one instance in a refresher run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new access token was stored.
    Refreshed { rotated: bool },
    /// The access token lasts beyond the margin.
    Fresh,
    /// Another invocation holds the lease and refreshes it.
    Busy,
    /// The credentials were rejected earlier and the secret has not changed since.
    NeedsOperator,
    /// The tracker rejected the credentials in this run; the instance is now marked.
    Rejected { error: String },
    /// The refresh failed in a way a later run may fix (5xx, timeout, a bad answer).
    Failed { error: String },
    /// The instance signs in without OAuth.
    NotOAuth,
}

impl Outcome {
    /// Returns a short code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Refreshed { .. } => "refreshed",
            Outcome::Fresh => "fresh",
            Outcome::Busy => "busy",
            Outcome::NeedsOperator => "needs_operator",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Failed { .. } => "failed",
            Outcome::NotOAuth => "not_oauth",
        }
    }
}

/// The result for one instance, with the expiries known after the run.
#[derive(Clone, Debug)]
pub struct InstanceReport {
    pub instance: String,
    pub outcome: Outcome,
    pub access_expires_at: Option<i64>,
    pub refresh_expires_at: Option<i64>,
}

/// The result of one refresher run over every OAuth instance.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub instances: Vec<InstanceReport>,
    /// Epoch seconds when the run finished, the reference of the "seconds left" figures.
    pub finished_at: i64,
    /// Refresh tokens that expire within the warning period.
    pub expiring_soon: usize,
}

impl RunReport {
    fn count(&self, matches: impl Fn(&Outcome) -> bool) -> usize {
        self.instances
            .iter()
            .filter(|report| matches(&report.outcome))
            .count()
    }

    /// Instances that got a new access token.
    pub fn refreshed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Refreshed { .. }))
    }

    /// Instances whose refresh failed, rejected credentials included.
    pub fn failed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Failed { .. } | Outcome::Rejected { .. }))
    }

    /// Instances left alone: fresh, refreshed by someone else, or waiting for an operator.
    pub fn skipped(&self) -> usize {
        self.count(|outcome| {
            matches!(
                outcome,
                Outcome::Fresh | Outcome::Busy | Outcome::NeedsOperator
            )
        })
    }

    /// Instances whose credentials need an operator.
    pub fn needs_operator(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::NeedsOperator | Outcome::Rejected { .. }))
    }

    /// Returns the minimum seconds left on any OAuth access token, or `None` without OAuth instances.
    pub fn min_access_seconds_left(&self) -> Option<i64> {
        self.instances
            .iter()
            .filter(|report| report.outcome != Outcome::NotOAuth)
            .map(|report| report.access_expires_at.unwrap_or(0) - self.finished_at)
            .min()
    }

    /// Returns the minimum seconds left on any refresh token with a known expiry.
    pub fn min_refresh_seconds_left(&self) -> Option<i64> {
        self.instances
            .iter()
            .filter_map(|report| report.refresh_expires_at)
            .map(|at| at - self.finished_at)
            .min()
    }

    /// Builds the run's metrics as one CloudWatch Embedded Metric Format object, for one stdout line.
    pub fn emf(&self, namespace: &str) -> Value {
        let mut metrics = vec![
            ("TokensRefreshed", Value::from(self.refreshed()), "Count"),
            ("TokenRefreshesFailed", Value::from(self.failed()), "Count"),
            (
                "TokenRefreshesSkipped",
                Value::from(self.skipped()),
                "Count",
            ),
            (
                "InstancesNeedingOperator",
                Value::from(self.needs_operator()),
                "Count",
            ),
            (
                "RefreshTokensExpiringSoon",
                Value::from(self.expiring_soon),
                "Count",
            ),
        ];
        if let Some(left) = self.min_access_seconds_left() {
            metrics.push(("MinAccessTokenSecondsLeft", Value::from(left), "Seconds"));
        }
        if let Some(left) = self.min_refresh_seconds_left() {
            metrics.push(("MinRefreshTokenSecondsLeft", Value::from(left), "Seconds"));
        }

        let mut root = Map::new();
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|(name, _, unit)| serde_json::json!({"Name": name, "Unit": unit}))
            .collect();
        root.insert(
            "_aws".to_owned(),
            serde_json::json!({
                "Timestamp": self.finished_at * 1000,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [[]],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value, _) in metrics {
            root.insert(name.to_owned(), value);
        }
        Value::Object(root)
    }
}

/// The cause of a failed token request.
enum TokenError {
    /// The tracker refused the client or the refresh token: retrying cannot help.
    Rejected(String),
    /// A failure a later attempt may not meet again.
    Transient(String),
}

/// The checked response of a token endpoint.
struct Tokens {
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
    refresh_expires_in: Option<i64>,
}

/// Refreshes OAuth access tokens under a lease, for the refresher and the webhook functions.
pub struct TokenRefresher<'a> {
    store: &'a Store,
    secrets: &'a Secrets,
    http: &'a reqwest::Client,
    settings: RefreshSettings,
    holder: String,
}

impl<'a> TokenRefresher<'a> {
    /// Creates a refresher whose leases carry a holder id of its own.
    pub fn new(
        store: &'a Store,
        secrets: &'a Secrets,
        http: &'a reqwest::Client,
        settings: RefreshSettings,
    ) -> Self {
        TokenRefresher {
            store,
            secrets,
            http,
            settings,
            holder: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Refreshes every OAuth instance of `config` whose access token expires within the margin.
    ///
    /// Instances run independently, at most `concurrency` at a time: one failure never stops
    /// the others.
    ///
    /// # Errors
    /// Listing the marked instances failed; nothing was refreshed then.
    pub async fn run(&self, config: &Config) -> Result<RunReport, StoreError> {
        let marks = self.store.list_needs_operator().await?;
        let instances: Vec<&Instance> = config
            .instances
            .iter()
            .filter(|instance| provider(instance.tracker).is_some())
            .collect();

        let reports: Vec<InstanceReport> = futures_util::stream::iter(instances)
            .map(|instance| {
                let mark = marks.iter().find(|mark| mark.instance == instance.id);
                self.refresh_if_due(instance, mark)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;

        let mut report = RunReport {
            instances: reports,
            finished_at: now_ms() / 1000,
            expiring_soon: 0,
        };
        let warn_before = i64::try_from(self.settings.warn_before.as_secs()).unwrap_or(i64::MAX);
        for instance in &report.instances {
            let Some(at) = instance.refresh_expires_at else {
                continue;
            };
            let left = at - report.finished_at;
            if left < warn_before {
                report.expiring_soon += 1;
                warn!(
                    instance = %instance.instance,
                    days_left = left / 86_400,
                    "refresh token expires soon: sign in again and store the new refresh token in the instance secret"
                );
            }
        }
        for instance in &report.instances {
            match &instance.outcome {
                Outcome::Rejected { error } => error!(
                    instance = %instance.instance,
                    error = error.as_str(),
                    "the tracker rejected the OAuth credentials: store new ones in the instance secret"
                ),
                Outcome::Failed { error } => warn!(
                    instance = %instance.instance,
                    error = error.as_str(),
                    "token refresh failed; the next run retries"
                ),
                _ => {}
            }
        }
        info!(
            refreshed = report.refreshed(),
            failed = report.failed(),
            skipped = report.skipped(),
            needs_operator = report.needs_operator(),
            "token refresher run finished"
        );
        Ok(report)
    }

    /// Refreshes one instance when its access token expires within the margin.
    pub async fn refresh_if_due(
        &self,
        instance: &Instance,
        mark: Option<&OperatorMark>,
    ) -> InstanceReport {
        let mut report = InstanceReport {
            instance: instance.id.clone(),
            outcome: Outcome::NotOAuth,
            access_expires_at: None,
            refresh_expires_at: None,
        };
        let Some(provider) = provider(instance.tracker) else {
            return report;
        };
        let (version, secret) = match self.read(instance).await {
            Ok(Some(found)) => found,
            Ok(None) => return report,
            Err(error) => {
                report.outcome = Outcome::Failed { error };
                return report;
            }
        };
        report.access_expires_at = secret.access_expires_at;
        report.refresh_expires_at = secret.refresh_expires_at;

        if let Some(mark) = mark {
            if mark.secret_version == version.version_id {
                report.outcome = Outcome::NeedsOperator;
                return report;
            }
            // An operator stored a new version: try it.
            if let Err(error) = self.store.clear_needs_operator(&instance.id).await {
                report.outcome = Outcome::Failed {
                    error: error.to_string(),
                };
                return report;
            }
        }
        if self.lasts(&secret) {
            report.outcome = Outcome::Fresh;
            return report;
        }

        match self
            .store
            .acquire_lease(&lease_name(instance), &self.holder, self.lease_ms())
            .await
        {
            Ok(Lease::Held { .. }) => {}
            Ok(Lease::Busy { .. }) => {
                report.outcome = Outcome::Busy;
                return report;
            }
            Err(error) => {
                report.outcome = Outcome::Failed {
                    error: error.to_string(),
                };
                return report;
            }
        }
        // A refresh may have finished between the first read and the lease.
        let result = match self.read(instance).await {
            Ok(Some((version, secret))) if !self.lasts(&secret) => {
                self.refresh_locked(instance, provider, &version, &secret)
                    .await
            }
            Ok(Some((_, secret))) => Ok((Outcome::Fresh, secret)),
            Ok(None) => Ok((Outcome::NotOAuth, secret)),
            Err(error) => Err(error),
        };
        self.release(instance).await;
        match result {
            Ok((outcome, secret)) => {
                report.outcome = outcome;
                report.access_expires_at = secret.access_expires_at;
                report.refresh_expires_at = secret.refresh_expires_at;
            }
            Err(error) => report.outcome = Outcome::Failed { error },
        }
        report
    }

    /// Refreshes `instance` after a tracker refused `failed_token`, for the webhook path.
    ///
    /// Returns true when the secret now contains another access token worth a retry: one this
    /// call fetched, or one that a concurrent refresh stored. Waits for a concurrent refresh
    /// until `deadline`.
    ///
    /// # Errors
    /// A message for the log; the caller's retry then fails as before.
    pub async fn refresh_rejected(
        &self,
        instance: &Instance,
        failed_token: Option<&str>,
        deadline: Instant,
    ) -> Result<bool, String> {
        let Some(provider) = provider(instance.tracker) else {
            return Ok(false);
        };
        let Some((version, secret)) = self.read(instance).await? else {
            return Ok(false);
        };
        let replaced = |secret: &OAuthSecret| {
            secret.access_token.is_some() && secret.access_token.as_deref() != failed_token
        };
        if replaced(&secret) && self.valid_now(&secret) {
            return Ok(true);
        }
        let marks = self
            .store
            .list_needs_operator()
            .await
            .map_err(|e| e.to_string())?;
        let marked = marks
            .iter()
            .any(|mark| mark.instance == instance.id && mark.secret_version == version.version_id);
        if marked {
            return Err(format!(
                "instance {} needs an operator: its OAuth credentials were rejected",
                instance.id
            ));
        }

        loop {
            let lease = self
                .store
                .acquire_lease(&lease_name(instance), &self.holder, self.lease_ms())
                .await
                .map_err(|e| e.to_string())?;
            if let Lease::Held { .. } = lease {
                break;
            }
            // Another refresh runs: wait for its token rather than start a second one.
            if Instant::now() + Duration::from_millis(250) >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Some((_, secret)) = self.read(instance).await?
                && replaced(&secret)
            {
                return Ok(true);
            }
        }

        let result = match self.read(instance).await {
            Ok(Some((_, secret))) if replaced(&secret) && self.valid_now(&secret) => {
                Ok((Outcome::Fresh, secret))
            }
            Ok(Some((version, secret))) => {
                self.refresh_locked(instance, provider, &version, &secret)
                    .await
            }
            Ok(None) => Ok((Outcome::NotOAuth, secret)),
            Err(error) => Err(error),
        };
        self.release(instance).await;
        match result? {
            (Outcome::Refreshed { .. } | Outcome::Fresh, _) => Ok(true),
            (Outcome::Rejected { error } | Outcome::Failed { error }, _) => Err(error),
            _ => Ok(false),
        }
    }

    /// Refreshes `instance` now, whatever its expiry, as `proxysync instance add` does.
    ///
    /// # Errors
    /// The refresh failed; the message names the cause.
    pub async fn refresh_now(&self, instance: &Instance) -> Result<Outcome, String> {
        let Some(provider) = provider(instance.tracker) else {
            return Ok(Outcome::NotOAuth);
        };
        let lease = self
            .store
            .acquire_lease(&lease_name(instance), &self.holder, self.lease_ms())
            .await
            .map_err(|e| e.to_string())?;
        if let Lease::Busy { .. } = lease {
            return Ok(Outcome::Busy);
        }
        let result = match self.read(instance).await {
            Ok(Some((version, secret))) => self
                .refresh_locked(instance, provider, &version, &secret)
                .await
                .map(|(outcome, _)| outcome),
            Ok(None) => Ok(Outcome::NotOAuth),
            Err(error) => Err(error),
        };
        self.release(instance).await;
        match result? {
            Outcome::Rejected { error } | Outcome::Failed { error } => Err(error),
            outcome => Ok(outcome),
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings.lease.as_millis()).unwrap_or(60_000)
    }

    /// True when the access token lasts beyond the margin.
    fn lasts(&self, secret: &OAuthSecret) -> bool {
        let margin = i64::try_from(self.settings.margin.as_secs()).unwrap_or(i64::MAX);
        secret.access_token.is_some()
            && secret
                .access_expires_at
                .is_some_and(|at| at > now_ms() / 1000 + margin)
    }

    /// True when the access token has not expired yet.
    fn valid_now(&self, secret: &OAuthSecret) -> bool {
        secret
            .access_expires_at
            .is_none_or(|at| at > now_ms() / 1000)
    }

    async fn read(
        &self,
        instance: &Instance,
    ) -> Result<Option<(SecretVersion, OAuthSecret)>, String> {
        let version = self
            .secrets
            .read_version(&instance.secret)
            .await
            .map_err(|e| e.to_string())?;
        let secret = oauth_secret(&instance.secret, &version.value)?;
        Ok(secret.map(|secret| (version, secret)))
    }

    async fn release(&self, instance: &Instance) {
        if let Err(error) = self
            .store
            .release_lease(&lease_name(instance), &self.holder)
            .await
        {
            // The lease expires on its own; the next refresh only waits longer.
            warn!(instance = %instance.id, error = %error, "could not release the refresh lease");
        }
    }

    /// Calls the token endpoint and stores the answer; the caller holds the lease.
    async fn refresh_locked(
        &self,
        instance: &Instance,
        provider: &Provider,
        version: &SecretVersion,
        secret: &OAuthSecret,
    ) -> Result<(Outcome, OAuthSecret), String> {
        let tokens = match self.request(instance, provider, secret).await {
            Ok(tokens) => tokens,
            Err(TokenError::Transient(error)) => {
                return Ok((Outcome::Failed { error }, secret.clone()));
            }
            Err(TokenError::Rejected(error)) => {
                let mark = OperatorMark {
                    instance: instance.id.clone(),
                    secret_version: version.version_id.clone(),
                    error: error.clone(),
                    marked_at_ms: now_ms(),
                };
                self.store
                    .mark_needs_operator(&mark)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok((Outcome::Rejected { error }, secret.clone()));
            }
        };

        let now = now_ms() / 1000;
        let rotated = tokens
            .refresh_token
            .as_ref()
            .is_some_and(|token| *token != secret.refresh_token);
        let mut updated = secret.clone();
        updated.access_token = Some(tokens.access_token.clone());
        updated.access_expires_at = Some(now + tokens.expires_in);
        let mut value = version.value.clone();
        let fields = value
            .as_object_mut()
            .expect("oauth_secret checked the object");
        fields.insert(
            "access_token".to_owned(),
            Value::String(tokens.access_token),
        );
        fields.insert(
            "access_token_expires_at".to_owned(),
            Value::from(now + tokens.expires_in),
        );
        if rotated {
            let token = tokens.refresh_token.clone().unwrap_or_default();
            fields.insert("refresh_token".to_owned(), Value::String(token.clone()));
            updated.refresh_token = token;
            let lifetime = tokens.refresh_expires_in.or_else(|| {
                instance
                    .options
                    .get("refresh_token_lifetime_secs")
                    .and_then(Value::as_i64)
            });
            if let Some(lifetime) = lifetime {
                fields.insert(
                    "refresh_token_expires_at".to_owned(),
                    Value::from(now + lifetime),
                );
                updated.refresh_expires_at = Some(now + lifetime);
            }
        }

        let written = self
            .secrets
            .write_version(&instance.secret, &value, &version.version_id)
            .await
            .map_err(|e| e.to_string())?;
        match written {
            SecretWrite::Written { .. } => {
                info!(instance = %instance.id, rotated, expires_in = tokens.expires_in, "access token refreshed");
                Ok((Outcome::Refreshed { rotated }, updated))
            }
            SecretWrite::Superseded => Ok((
                Outcome::Failed {
                    error: format!(
                        "secret {} changed during the refresh, so the new token was not stored; the next run uses the new value",
                        instance.secret
                    ),
                },
                secret.clone(),
            )),
        }
    }

    async fn request(
        &self,
        instance: &Instance,
        provider: &Provider,
        secret: &OAuthSecret,
    ) -> Result<Tokens, TokenError> {
        let url = match instance.options.get("token_url").and_then(Value::as_str) {
            Some(url) => url.to_owned(),
            None => format!(
                "{}{}",
                instance.base_url.trim_end_matches('/'),
                provider.token_path
            ),
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", secret.client_id.as_str()),
            ("client_secret", secret.client_secret.as_str()),
            ("refresh_token", secret.refresh_token.as_str()),
        ];
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(&url)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .timeout(self.settings.request_timeout)
            .send()
            .await
            .map_err(|e| {
                TokenError::Transient(format!(
                    "{} token endpoint of {} unreachable: {}",
                    provider.tracker.display_name(),
                    instance.id,
                    e.without_url()
                ))
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| {
            TokenError::Transient(format!(
                "truncated token response for {}: {}",
                instance.id,
                e.without_url()
            ))
        })?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error_code = body.get("error").and_then(Value::as_str).unwrap_or("");
        let described = || {
            let description = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            format!(
                "{} token endpoint answered {status} for instance {} ({error_code}{}{description})",
                provider.tracker.display_name(),
                instance.id,
                if description.is_empty() { "" } else { ": " }
            )
        };

        if status == 401 || matches!(error_code, "invalid_grant" | "invalid_client") {
            return Err(TokenError::Rejected(described()));
        }
        if !(200..300).contains(&status) {
            return Err(TokenError::Transient(described()));
        }
        let bad = |what: &str| {
            TokenError::Transient(format!(
                "{} token response for instance {} {what}",
                provider.tracker.display_name(),
                instance.id
            ))
        };
        let access_token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| bad("has no access_token"))?
            .to_owned();
        let expires_in = match seconds(body.get("expires_in")) {
            Some(seconds) => seconds,
            None => provider
                .lifetime_option
                .and_then(|option| instance.options.get(option))
                .and_then(Value::as_i64)
                .ok_or_else(|| bad("has no expires_in"))?,
        };
        if expires_in <= 0 {
            return Err(bad("has an expires_in of zero or less"));
        }
        Ok(Tokens {
            access_token,
            expires_in,
            refresh_token: body
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|token| !token.is_empty())
                .map(str::to_owned),
            refresh_expires_in: seconds(body.get("refresh_token_expires_in")),
        })
    }
}

/// Reads a number of seconds sent as a JSON number or a string of digits.
fn seconds(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn lease_name(instance: &Instance) -> String {
    format!("oauth#{}", instance.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_secret_is_not_oauth() {
        let value = json!({"username": "sync.proxy", "password": "p"});
        assert!(oauth_secret("s", &value).unwrap().is_none());
    }

    #[test]
    fn missing_field_named_without_values() {
        let value = json!({"client_id": "c", "refresh_token": "very-secret-value"});
        let error = oauth_secret("proxysync/snow", &value).err().unwrap();
        assert!(error.contains("client_secret"), "{error}");
        assert!(error.contains("proxysync/snow"), "{error}");
        assert!(!error.contains("very-secret-value"), "{error}");
    }

    #[test]
    fn expiry_must_be_a_number() {
        let value = json!({"client_id": "c", "client_secret": "s", "refresh_token": "r",
            "access_token_expires_at": "tomorrow"});
        let error = oauth_secret("x", &value).err().unwrap();
        assert!(error.contains("access_token_expires_at"), "{error}");
        assert!(!error.contains("tomorrow"), "{error}");
    }

    #[test]
    fn not_an_object_rejected() {
        assert!(oauth_secret("x", &json!("text")).is_err());
    }

    #[test]
    fn seconds_accept_numbers_and_digit_strings() {
        assert_eq!(seconds(Some(&json!(1799))), Some(1799));
        assert_eq!(seconds(Some(&json!("1800"))), Some(1800));
        assert_eq!(seconds(Some(&json!(true))), None);
    }

    #[test]
    fn settings_reject_zero_concurrency() {
        let error = RefreshSettings::from_lookup(|name| {
            (name == "PROXYSYNC_REFRESH_CONCURRENCY").then(|| "0".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("PROXYSYNC_REFRESH_CONCURRENCY"), "{error}");
    }

    #[test]
    fn emf_has_aws_block_and_values() {
        let report = RunReport {
            instances: vec![
                InstanceReport {
                    instance: "a".to_owned(),
                    outcome: Outcome::Refreshed { rotated: false },
                    access_expires_at: Some(2_000),
                    refresh_expires_at: None,
                },
                InstanceReport {
                    instance: "b".to_owned(),
                    outcome: Outcome::Failed {
                        error: "500".to_owned(),
                    },
                    access_expires_at: Some(1_100),
                    refresh_expires_at: None,
                },
            ],
            finished_at: 1_000,
            expiring_soon: 0,
        };
        let emf = report.emf("proxysync");
        assert_eq!(emf["TokensRefreshed"], 1);
        assert_eq!(emf["TokenRefreshesFailed"], 1);
        assert_eq!(emf["MinAccessTokenSecondsLeft"], 100);
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "proxysync"
        );
        assert!(emf.get("MinRefreshTokenSecondsLeft").is_none());
    }
}
