//! The webhook path shared by every tracker: look up, verify, parse, drop the
//! proxy user's changes, claim the delivery (or each of its events, when the
//! tracker gives them ids of their own), sync each connection, store the link,
//! and park what fails past the budget.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{Config, Settings};
use crate::error::{Rejection, StoreError, TargetError};
use crate::http::{Api, ApiTarget};
use crate::metrics;
use crate::model::{Change, ChangeEvent, Instance, ProxyIdentity};
use crate::secrets::Secrets;
use crate::store::{
    Claim, CommentWrite, Commit, LinkWrite, ParkedEvent, Store, WriteCount, WrittenComment,
};
use crate::sync::{self, Applied, ApplyContext, Route, SkipReason};
use crate::time_util::now_ms;
use crate::tracker::{InboundRequest, Peer, TrackerModule};
use crate::trackers;

/// How long one invocation keeps the right to create a peer issue.
const CREATE_HOLD_MS: i64 = 60 * 1000;
/// The maximum wait of a delivery for a racing delivery that creates the peer.
const CREATE_WAIT: Duration = Duration::from_secs(4);
/// How long before the source event the search for a peer created by an earlier attempt
/// starts, to allow for clock differences between the two trackers.
const FIND_CREATED_MARGIN_MS: i64 = 10 * 60 * 1000;

/// The response to a webhook: an HTTP status and a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: Value,
}

impl WebhookResponse {
    /// Builds a one-line JSON error response.
    pub fn error(status: u16, code: &str, message: String) -> WebhookResponse {
        WebhookResponse {
            status,
            body: json!({"error": code, "message": message}),
        }
    }
}

/// A failure that leaves nothing stored, so the tracker's retry is the safety net.
#[derive(Debug, thiserror::Error)]
enum Abort {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

enum ConfigSource {
    Stored(Mutex<Option<(Instant, Arc<Config>)>>),
    Fixed(Arc<Config>),
}

/// The outcome of one event through one connection.
#[derive(Clone, Debug)]
pub enum Outcome {
    Synced {
        action: &'static str,
        target: String,
    },
    Skipped(SkipReason),
    Parked {
        error: String,
    },
}

impl Outcome {
    fn to_json(&self, event: &ChangeEvent, connection: Option<&str>) -> Value {
        let mut value =
            json!({"kind": event.kind, "issue": event.issue.key, "connection": connection});
        match self {
            Outcome::Synced { action, target } => {
                value["decision"] = json!("synced");
                value["action"] = json!(action);
                value["target"] = json!(target);
            }
            Outcome::Skipped(reason) => {
                value["decision"] = json!("skipped");
                value["reason"] = json!(reason.code());
            }
            Outcome::Parked { error } => {
                value["decision"] = json!("parked");
                value["error"] = json!(error);
            }
        }
        value
    }
}

/// The claim keys of one delivery.
struct Delivery<'a> {
    /// The claim key of the whole delivery, `delivery#{instance}#{id}`.
    key: &'a str,
    /// The tracker's delivery id, or a digest of the body.
    id: &'a str,
    /// Per-event delivery ids, as described at [`crate::tracker::Parsed::event_ids`].
    event_ids: &'a [String],
}

/// One claim of a delivery and the (event, route) pairs it covers, in event order.
struct DeliveryClaim<'e, 'c> {
    key: String,
    /// The delivery id in the key, for logs and messages.
    id: &'e str,
    work: Vec<(&'e ChangeEvent, Route<'c>)>,
}

/// The result of one replay run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub waiting: usize,
}

/// The shared webhook pipeline, built once per Lambda container and reused while warm.
pub struct Pipeline {
    settings: Settings,
    store: Store,
    config: ConfigSource,
    secrets: Secrets,
    http: reqwest::Client,
    /// When each webhook secret was last re-read after a bad signature.
    secret_reloads: Mutex<std::collections::HashMap<String, Instant>>,
}

impl Pipeline {
    /// Creates a pipeline that reads instances and connections from the table.
    pub fn new(
        settings: Settings,
        store: Store,
        secrets: Secrets,
        http: reqwest::Client,
    ) -> Pipeline {
        Pipeline {
            settings,
            store,
            config: ConfigSource::Stored(Mutex::new(None)),
            secrets,
            http,
            secret_reloads: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Creates a pipeline with a fixed configuration instead of the stored one.
    pub fn with_config(
        settings: Settings,
        store: Store,
        secrets: Secrets,
        http: reqwest::Client,
        config: Config,
    ) -> Pipeline {
        Pipeline {
            config: ConfigSource::Fixed(Arc::new(config)),
            ..Pipeline::new(settings, store, secrets, http)
        }
    }

    /// The settings this pipeline runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The DynamoDB store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The secret cache.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Returns the configuration, from the cache while it is fresh.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn config(&self, reload: bool) -> Result<Arc<Config>, StoreError> {
        let cache = match &self.config {
            ConfigSource::Fixed(config) => return Ok(config.clone()),
            ConfigSource::Stored(cache) => cache,
        };
        if !reload {
            let cached = cache.lock().expect("config cache lock poisoned");
            if let Some((read_at, config)) = cached.as_ref()
                && read_at.elapsed() < self.settings.config_ttl
            {
                return Ok(config.clone());
            }
        }
        let config = Arc::new(self.store.load_config().await?);
        *cache.lock().expect("config cache lock poisoned") = Some((Instant::now(), config.clone()));
        Ok(config)
    }

    /// Builds an authenticated client for `instance`, reading its secret through the cache.
    ///
    /// # Errors
    /// The secret cannot be read or lacks a field the tracker needs.
    pub async fn api(
        &self,
        instance: &Instance,
        deadline: Instant,
        reload: bool,
    ) -> Result<Api, StoreError> {
        let module = module_of(instance).map_err(|message| StoreError::InvalidSecret {
            secret_id: instance.secret.clone(),
            message,
        })?;
        let credentials = self.secrets.get(instance, reload).await?;
        let auth = module
            .auth(&credentials)
            .map_err(|message| StoreError::InvalidSecret {
                secret_id: instance.secret.clone(),
                message: format!(
                    "{message}. {}",
                    crate::secrets::expected_shape(instance.tracker)
                ),
            })?;
        let target = ApiTarget {
            tracker: instance.tracker,
            instance: &instance.id,
            base_url: &instance.base_url,
            module,
        };
        Ok(Api::new(self.http.clone(), target, auth, deadline)
            .with_options(instance.options.clone()))
    }

    /// Asks the tracker which account the instance's credentials belong to.
    ///
    /// # Errors
    /// The secret cannot be read, or the tracker refused the call.
    pub async fn whoami(&self, instance: &Instance) -> Result<ProxyIdentity, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let api = self
            .api(instance, deadline, true)
            .await
            .map_err(|e| e.to_string())?;
        let module = module_of(instance)?;
        module
            .target()
            .whoami(&api)
            .await
            .map_err(|e| e.to_string())
    }

    /// Renders a response in the form the route's tracker expects (JSON, or SOAP for Salesforce).
    pub fn render(&self, route: &str, answer: &WebhookResponse) -> crate::tracker::RawResponse {
        let module = crate::model::TrackerKind::ALL
            .iter()
            .filter(|kind| kind.route() == route)
            .find_map(|kind| trackers::module(*kind));
        match module {
            Some(module) => module.respond(answer.status, &answer.body),
            None => crate::tracker::RawResponse {
                status: answer.status,
                content_type: "application/json",
                body: answer.body.to_string(),
            },
        }
    }

    /// Syncs change events that a poller read from `instance_id` (a tracker with no webhooks).
    ///
    /// `batch_id` plays the part of a delivery id: the same batch is applied once.
    pub async fn sync_polled(
        &self,
        instance_id: &str,
        events: &[ChangeEvent],
        batch_id: &str,
        deadline: Instant,
    ) -> WebhookResponse {
        let result = async {
            let config = self.instance_config(instance_id).await?;
            let instance = config
                .instance(instance_id)
                .expect("instance_config checked the id");
            let delivery_key = format!("delivery#{instance_id}#{batch_id}");
            let delivery = Delivery {
                key: &delivery_key,
                id: batch_id,
                event_ids: &[],
            };
            self.sync_events(&config, instance, events, &delivery, deadline)
                .await
        }
        .await;
        result.unwrap_or_else(|error: Abort| match error {
            Abort::Rejected(rejection) => {
                WebhookResponse::error(rejection.status(), rejection.code(), rejection.to_string())
            }
            Abort::Store(error) => store_failure_answer(&error),
            Abort::Setup(message) => {
                tracing::error!(error = %message, "instance is not set up");
                not_ready_answer(instance_id)
            }
        })
    }

    /// Returns true at most once a minute per secret, so bad signatures cannot make
    /// every request read Secrets Manager.
    fn may_reload_webhook_secret(&self, secret_id: &str) -> bool {
        let mut reloads = self
            .secret_reloads
            .lock()
            .expect("reload clock lock poisoned");
        let now = Instant::now();
        match reloads.get(secret_id) {
            Some(at) if now.duration_since(*at) < Duration::from_secs(60) => false,
            _ => {
                reloads.insert(secret_id.to_owned(), now);
                true
            }
        }
    }

    /// Handles one webhook request end to end and returns the HTTP response.
    ///
    /// `deadline` bounds the target calls; past it, failing events are parked.
    pub async fn handle_webhook(
        &self,
        route: &str,
        instance_id: &str,
        request: &InboundRequest,
        deadline: Instant,
    ) -> WebhookResponse {
        let span = info_span!(
            "webhook",
            tracker = route,
            instance = instance_id,
            event = tracing::field::Empty,
            delivery = tracing::field::Empty,
            issues = tracing::field::Empty,
        );
        let started = Instant::now();
        metrics::count(route, metrics::EVENTS_RECEIVED, 1);
        let answer = async {
            match self.process(route, instance_id, request, deadline).await {
                Ok(response) => response,
                Err(Abort::Rejected(rejection)) => {
                    metrics::count_reason(route, metrics::REJECTED, rejection.code());
                    if matches!(rejection, Rejection::Malformed(_)) {
                        // A parser's message may quote the body, which carries issue text.
                        warn!(
                            reason = rejection.code(),
                            "webhook rejected: the body is not the tracker's JSON shape"
                        );
                        tracing::debug!(error = %rejection, "malformed webhook body");
                    } else {
                        warn!(reason = rejection.code(), error = %rejection, "webhook rejected");
                    }
                    let (code, message) = rejection.public_answer();
                    WebhookResponse::error(rejection.status(), code, message)
                }
                Err(Abort::Store(error)) => {
                    tracing::error!(error = %error, "webhook failed before anything was stored");
                    store_failure_answer(&error)
                }
                Err(Abort::Setup(message)) => {
                    tracing::error!(error = %message, "instance is not set up");
                    not_ready_answer(instance_id)
                }
            }
        }
        .instrument(span)
        .await;
        metrics::duration_ms(
            route,
            metrics::LATENCY,
            started.elapsed().as_secs_f64() * 1000.0,
        );
        answer
    }

    async fn process(
        &self,
        route: &str,
        instance_id: &str,
        request: &InboundRequest,
        deadline: Instant,
    ) -> Result<WebhookResponse, Abort> {
        if !trackers::has_route(route) {
            return Err(Rejection::UnknownRoute(route.to_owned()).into());
        }
        let limit = self.settings.max_body_bytes;
        if request.body.len() > limit {
            return Err(Rejection::TooLarge {
                size: request.body.len(),
                limit,
            }
            .into());
        }

        let config = self.instance_config(instance_id).await?;
        let instance = config
            .instance(instance_id)
            .expect("instance_config checked the id");
        if instance.tracker.route() != route {
            return Err(Rejection::WrongRoute {
                instance: instance_id.to_owned(),
                actual: instance.tracker,
                route: route.to_owned(),
            }
            .into());
        }
        let module = module_of(instance).map_err(Abort::Setup)?;
        let credentials = self.secrets.get(instance, false).await?;
        let verified = verify_with(module, instance, request, &credentials);
        if matches!(verified, Err(Abort::Rejected(Rejection::BadSignature(_))))
            && self.may_reload_webhook_secret(&instance.secret)
        {
            // The secret may have been rotated since it was cached: read it once more.
            let fresh = self.secrets.get(instance, true).await?;
            verify_with(module, instance, request, &fresh)?;
        } else {
            verified?;
        }

        let parsed = module.source().parse_for(instance, request)?;
        let span = tracing::Span::current();
        span.record("event", parsed.event_name.as_str());
        if let Some(delivery) = &parsed.delivery_id {
            span.record("delivery", delivery.as_str());
        }
        if !parsed.events.is_empty() {
            let keys: Vec<&str> = parsed.events.iter().map(|e| e.issue.key.as_str()).collect();
            span.record("issues", keys.join(",").as_str());
        }
        if let Some(reason) = &parsed.ignored {
            info!(
                outcome = "ignored",
                reason = reason.as_str(),
                "event not synced"
            );
            return Ok(WebhookResponse {
                status: 200,
                body: json!({"outcome": "ignored", "event": parsed.event_name, "reason": reason}),
            });
        }
        if instance.proxy.is_none() {
            return Err(Abort::Setup(format!(
                "instance {instance_id} has no proxy identity, so its own changes cannot be told apart: \
                 run `proxysync instance add` for it"
            )));
        }

        let delivery_id = parsed
            .delivery_id
            .clone()
            .unwrap_or_else(|| body_digest(&request.body));
        let delivery_key = format!("delivery#{instance_id}#{delivery_id}");
        let delivery = Delivery {
            key: &delivery_key,
            id: &delivery_id,
            event_ids: &parsed.event_ids,
        };
        self.sync_events(&config, instance, &parsed.events, &delivery, deadline)
            .await
    }

    async fn instance_config(&self, instance_id: &str) -> Result<Arc<Config>, Abort> {
        let config = self.config(false).await?;
        if config.instance(instance_id).is_some() {
            return Ok(config);
        }
        // The instance may have been added since the cache was filled.
        let config = self.config(true).await?;
        if config.instance(instance_id).is_none() {
            return Err(Rejection::UnknownInstance(instance_id.to_owned()).into());
        }
        Ok(config)
    }

    async fn sync_events(
        &self,
        config: &Config,
        instance: &Instance,
        events: &[ChangeEvent],
        delivery: &Delivery<'_>,
        deadline: Instant,
    ) -> Result<WebhookResponse, Abort> {
        let received = Instant::now();
        let mut results = Vec::new();
        let mut claims: Vec<DeliveryClaim<'_, '_>> = Vec::new();
        for (index, event) in events.iter().enumerate() {
            match sync::route(config, instance, event) {
                Ok(routes) => {
                    let (key, id) = match delivery.event_ids.get(index) {
                        Some(id) => (format!("delivery#{}#{id}", instance.id), id.as_str()),
                        None => (delivery.key.to_owned(), delivery.id),
                    };
                    let pairs = routes.into_iter().map(|route| (event, route));
                    match claims.iter_mut().find(|claim| claim.key == key) {
                        Some(claim) => claim.work.extend(pairs),
                        None => claims.push(DeliveryClaim {
                            key,
                            id,
                            work: pairs.collect(),
                        }),
                    }
                }
                Err(reason) => {
                    metrics::count_reason(event.tracker.route(), metrics::SKIPPED, reason.code());
                    info!(outcome = "skipped", reason = reason.code(), issue = %event.issue.key, "event skipped");
                    if reason == SkipReason::ProxyAuthor {
                        self.check_proxy_change(config, event, received, deadline)
                            .await;
                    }
                    results.push(Outcome::Skipped(reason).to_json(event, None));
                }
            }
        }
        if claims.is_empty() {
            return Ok(respond("skipped", delivery.id, results));
        }

        let per_event = !delivery.event_ids.is_empty();
        let mut parked = false;
        let mut applied = false;
        let mut busy = Vec::new();
        for claim in &claims {
            let claimed = self.store.claim(&claim.key, lease_ms(&self.settings));
            if let Claim::Duplicate { status } = claimed.await? {
                metrics::count(instance.tracker.route(), metrics::DUPLICATES, 1);
                info!(
                    outcome = "duplicate",
                    status = status.as_str(),
                    claim = claim.id,
                    "delivery already handled"
                );
                if !per_event {
                    return Ok(WebhookResponse {
                        status: 200,
                        body: json!({"outcome": "duplicate", "delivery": delivery.id, "status": status}),
                    });
                }
                if status == "in_progress" {
                    busy.push(claim.id);
                }
                for (event, route) in &claim.work {
                    results.push(json!({"kind": event.kind, "issue": event.issue.key,
                        "connection": route.connection.id, "decision": "duplicate", "status": status}));
                }
                continue;
            }
            applied = true;
            parked |= self
                .sync_claimed(&claim.key, &claim.work, deadline, &mut results)
                .await?;
        }

        if !busy.is_empty() {
            // Acknowledging now would let the tracker drop an event that may still fail.
            let noun = if busy.len() == 1 { "event" } else { "events" };
            let message = format!(
                "another invocation is still applying {noun} {} of this delivery, so it is not \
                 acknowledged yet; redeliver it later",
                busy.join(", ")
            );
            warn!(outcome = "in_progress", events = %busy.join(","), "delivery not acknowledged: an event is still being applied");
            let mut answer = WebhookResponse::error(503, "in_progress", message);
            answer.body["events"] = json!(results);
            return Ok(answer);
        }
        if parked {
            return Ok(WebhookResponse {
                status: 202,
                body: json!({"outcome": "parked", "delivery": delivery.id, "events": results}),
            });
        }
        if !applied {
            return Ok(respond("duplicate", delivery.id, results));
        }
        Ok(respond("processed", delivery.id, results))
    }

    /// Syncs the pairs of one claimed key in order, marks the claim done with the last one, and
    /// returns whether one was parked. A storage failure releases the claim, so a redelivery
    /// applies it again.
    async fn sync_claimed(
        &self,
        key: &str,
        work: &[(&ChangeEvent, Route<'_>)],
        deadline: Instant,
        results: &mut Vec<Value>,
    ) -> Result<bool, Abort> {
        let mut parked = false;
        let mut finished = false;
        let last = work.len() - 1;
        for (index, (event, route)) in work.iter().enumerate() {
            let finish = (index == last).then_some(key);
            let result = self.sync_route(event, route, deadline, finish, None).await;
            let (outcome, did_finish) = match result {
                Ok(done) => done,
                Err(error) => {
                    if let Err(release) = self.store.release(key).await {
                        warn!(error = %release, "could not release the delivery claim; it expires with its lease");
                    }
                    return Err(error.into());
                }
            };
            finished |= did_finish;
            parked |= matches!(outcome, Outcome::Parked { .. });
            results.push(outcome.to_json(event, Some(&route.connection.id)));
        }
        if !finished {
            self.store.finish(key).await?;
        }
        Ok(parked)
    }

    /// Syncs one event through one route and stores the result.
    ///
    /// Returns the outcome and whether the delivery claim `finish` was marked in
    /// the same write. With `replaying`, a failure updates that parked record
    /// instead of parking anew, and success deletes it.
    async fn sync_route(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        deadline: Instant,
        finish: Option<&str>,
        replaying: Option<&ParkedEvent>,
    ) -> Result<(Outcome, bool), StoreError> {
        let span = info_span!("sync", connection = %route.connection.id, issue = %event.issue.key, kind = %event.kind);
        async {
            match self
                .try_sync(event, route, deadline, finish, replaying)
                .await
            {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(error)) => self.park(event, route, finish, replaying, &error).await,
                Err(error) => Err(error),
            }
        }
        .instrument(span)
        .await
    }

    async fn try_sync(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        deadline: Instant,
        finish: Option<&str>,
        replaying: Option<&ParkedEvent>,
    ) -> Result<Result<(Outcome, bool), TargetError>, StoreError> {
        let connection = &route.connection.id;
        let mut link = self
            .store
            .get_link(&event.instance, &event.issue.id, connection)
            .await?;
        let linked = link.as_ref().is_some_and(|link| link.peer.is_some());

        let mut rest = None;
        if linked && event.is_issue_change() {
            let known = link.as_ref().expect("linked");
            if matches!(event.change, Change::IssueUpdated { .. })
                && event.at_ms < known.applied_at_ms
            {
                return Ok(Ok((
                    self.skip(event, SkipReason::Stale, finish, replaying)
                        .await?,
                    finish.is_some(),
                )));
            }
            // Whoever the tracker names as the author, a value that proxysync wrote here moments
            // ago is its own write coming back; the other changed fields still sync.
            // NOTE: the echo is stored after the target call returns, so a webhook that arrives
            // before that commit finds none, and then only the author check drops it.
            let (echoed, _) = sync::split_echoes(event, &known.field_echoes);
            if !echoed.is_empty() {
                let Some(reduced) = sync::without_fields(event, &echoed) else {
                    return Ok(Ok((
                        self.skip(event, SkipReason::Echo, finish, replaying)
                            .await?,
                        finish.is_some(),
                    )));
                };
                info!(echoed = ?echoed, "dropped the fields whose values proxysync wrote itself");
                rest = Some(reduced);
            }
        }
        if linked && self.is_comment_echo(event, connection).await? {
            return Ok(Ok((
                self.skip(event, SkipReason::Echo, finish, replaying)
                    .await?,
                finish.is_some(),
            )));
        }
        let event = rest.as_ref().unwrap_or(event);

        // The write cap reads the counter from the link read above and stores it with the
        // commit, so it costs no DynamoDB call of its own.
        // NOTE: two deliveries for the same issue at once both read the same count, so a
        // concurrent burst can pass the cap by the number of concurrent deliveries.
        let cap = self.settings.max_writes_per_issue_per_minute;
        let minute = now_ms() / 60_000;
        let counted = link.as_ref().map_or(0, |link| link.writes_in(minute));
        if cap > 0 && counted >= cap {
            let error = TargetError::Refused(format!(
                "{WRITE_CAP_MESSAGE}: {} already had {cap} writes through connection {connection} \
                 this minute, which looks like a write storm or a sync loop; the event waits for replay \
                 (raise PROXYSYNC_MAX_WRITES_PER_ISSUE_PER_MINUTE if this traffic is expected)",
                event.issue.key
            ));
            return Ok(Err(error));
        }
        let write_count = (cap > 0).then(|| WriteCount {
            instance: event.instance.clone(),
            issue_id: event.issue.id.clone(),
            connection: connection.clone(),
            minute,
            count: counted + 1,
        });

        let mut holds_create = false;
        if !linked && event.is_issue_change() {
            holds_create = self
                .store
                .lock_create(&event.instance, &event.issue.id, connection, CREATE_HOLD_MS)
                .await?;
            if !holds_create {
                link = self.wait_for_peer(event, connection, deadline).await?;
                if link.as_ref().is_none_or(|link| link.peer.is_none()) {
                    let error = TargetError::Refused(
                        "another delivery is still creating the linked issue".to_owned(),
                    );
                    return Ok(Err(error));
                }
            }
        }

        let module =
            module_of(route.target_instance).map_err(|message| StoreError::InvalidSecret {
                secret_id: route.target_instance.secret.clone(),
                message,
            })?;
        // A replayed create may have reached the target before its response was lost, so the
        // issue it created is looked up, and then updated and linked instead of created again.
        let mut found = None;
        if holds_create && replaying.is_some() {
            match self.find_created(event, route, module, deadline).await? {
                Ok(issue) => found = issue,
                Err(error) => {
                    self.store
                        .unlock_create(&event.instance, &event.issue.id, connection)
                        .await?;
                    return Ok(Err(error));
                }
            }
        }

        let peer = found
            .clone()
            .or_else(|| link.as_ref().and_then(|link| link.peer.clone()));
        let peer_comment = match (&event.change, &peer) {
            (Change::CommentUpdated { comment }, Some(_)) => {
                self.store
                    .get_comment(&event.instance, &event.issue.id, connection, &comment.id)
                    .await?
            }
            (Change::CommentDeleted { comment_id }, Some(_)) => {
                self.store
                    .get_comment(&event.instance, &event.issue.id, connection, comment_id)
                    .await?
            }
            _ => None,
        };

        let applied = self
            .apply_with_reauth(
                event,
                route,
                module,
                deadline,
                peer.as_ref(),
                peer_comment.as_deref(),
            )
            .await?;
        let applied = match applied {
            Ok(applied) => applied,
            Err(error) => {
                if holds_create {
                    self.store
                        .unlock_create(&event.instance, &event.issue.id, connection)
                        .await?;
                }
                return Ok(Err(error));
            }
        };

        let written = Written {
            peer: peer.as_ref(),
            peer_comment: peer_comment.as_deref(),
            write_count: write_count.as_ref(),
        };
        let outcome = self
            .persist(event, route, &applied, written, finish, replaying)
            .await?;
        let created = match &applied {
            Applied::Created(created) => Some(created),
            _ => found.as_ref(),
        };
        if let Some(created) = created {
            self.link_created(event, route, module, created, deadline)
                .await;
        }
        Ok(Ok((outcome, finish.is_some())))
    }

    /// Searches the target for the issue that an earlier attempt of this create made, and
    /// returns the newest candidate in the connected project that is not linked to another
    /// issue.
    async fn find_created(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        module: &'static dyn TrackerModule,
        deadline: Instant,
    ) -> Result<Result<Option<crate::model::IssueRef>, TargetError>, StoreError> {
        let api = self.api(route.target_instance, deadline, false).await?;
        let target = module.target();
        let since_ms = event.at_ms - FIND_CREATED_MARGIN_MS;
        let candidates = match target
            .find_created(&api, route.target, &event.issue, &event.content, since_ms)
            .await
        {
            Ok(candidates) => candidates,
            Err(error) => return Ok(Err(error)),
        };
        for candidate in candidates {
            if !target.in_project(route.target, &candidate) {
                continue;
            }
            let link = self
                .store
                .get_link(
                    &route.target_instance.id,
                    &candidate.id,
                    &route.connection.id,
                )
                .await?;
            let linked_elsewhere = link
                .and_then(|link| link.peer)
                .is_some_and(|peer| peer.id != event.issue.id);
            if linked_elsewhere {
                continue;
            }
            info!(target = %candidate.key, "found the linked issue that an earlier attempt created; linking it instead of creating another");
            return Ok(Ok(Some(candidate)));
        }
        Ok(Ok(None))
    }

    async fn apply_with_reauth(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        module: &'static dyn TrackerModule,
        deadline: Instant,
        peer: Option<&crate::model::IssueRef>,
        peer_comment: Option<&str>,
    ) -> Result<Result<Applied, TargetError>, StoreError> {
        let mut reload = false;
        loop {
            let api = self.api(route.target_instance, deadline, reload).await?;
            let cx = ApplyContext {
                event,
                route,
                module,
                api: &api,
                peer,
                peer_comment,
            };
            match sync::apply(&cx).await {
                Err(error) if error.is_unauthorized() && !reload => {
                    warn!(instance = %route.target_instance.id, "target rejected the credentials; reading the secret again");
                    self.refresh_oauth(route.target_instance, deadline).await;
                    reload = true;
                }
                result => return Ok(result),
            }
        }
    }

    /// After a 401, refreshes an OAuth access token under the refresher's lease; other sign-ins
    /// only read the secret again.
    async fn refresh_oauth(&self, instance: &Instance, deadline: Instant) {
        if crate::oauth::provider(instance.tracker).is_none() {
            return;
        }
        let failed = self
            .secrets
            .cached(&instance.secret)
            .and_then(|credentials| {
                use secrecy::ExposeSecret;
                credentials
                    .access_token
                    .as_ref()
                    .map(|token| token.expose_secret().to_owned())
            });
        let settings = crate::oauth::RefreshSettings::default();
        let refresher =
            crate::oauth::TokenRefresher::new(&self.store, &self.secrets, &self.http, settings);
        if let Err(error) = refresher
            .refresh_rejected(instance, failed.as_deref(), deadline)
            .await
        {
            warn!(instance = %instance.id, error = %error, "could not refresh the OAuth access token");
        }
    }

    async fn wait_for_peer(
        &self,
        event: &ChangeEvent,
        connection: &str,
        deadline: Instant,
    ) -> Result<Option<crate::store::Link>, StoreError> {
        let until = (Instant::now() + CREATE_WAIT).min(deadline);
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let link = self
                .store
                .get_link(&event.instance, &event.issue.id, connection)
                .await?;
            if link.as_ref().is_some_and(|link| link.peer.is_some()) || Instant::now() >= until {
                return Ok(link);
            }
        }
    }

    async fn persist(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        applied: &Applied,
        written: Written<'_>,
        finish: Option<&str>,
        replaying: Option<&ParkedEvent>,
    ) -> Result<Outcome, StoreError> {
        let connection = &route.connection.id;
        let peer = written.peer;
        let echo_until_ms = now_ms() + duration_ms(self.settings.echo_ttl);
        let fields = sync::written_fields(event);
        let mut commit = Commit {
            finish_delivery: finish.map(str::to_owned),
            delete_parked: replaying.map(|parked| parked.id.clone()),
            ..Commit::default()
        };
        let skipped_commit = commit.clone();
        commit.write_count = written.write_count.cloned();
        let source_link = |peer: &crate::model::IssueRef, applied_at_ms| LinkWrite {
            instance: event.instance.clone(),
            issue_id: event.issue.id.clone(),
            connection: connection.clone(),
            peer_instance: route.target_instance.id.clone(),
            peer: peer.clone(),
            applied_at_ms,
            echo: None,
            field_echoes: Vec::new(),
            echo_until_ms: 0,
            // A person just set these fields here, so what proxysync wrote before is history.
            clear_echoes: fields.clone(),
        };
        let target_link = |peer: &crate::model::IssueRef| LinkWrite {
            instance: route.target_instance.id.clone(),
            issue_id: peer.id.clone(),
            connection: connection.clone(),
            peer_instance: event.instance.clone(),
            peer: event.issue.clone(),
            applied_at_ms: None,
            echo: Some(sync::fingerprint(&event.content)),
            field_echoes: fields
                .iter()
                .map(|field| (*field, sync::field_hash(*field, &event.content)))
                .collect(),
            echo_until_ms,
            clear_echoes: Vec::new(),
        };
        let written_comment = |comment_id: &str, body: &str| WrittenComment {
            instance: route.target_instance.id.clone(),
            issue_id: peer.map(|p| p.id.clone()).unwrap_or_default(),
            connection: connection.clone(),
            comment_id: comment_id.to_owned(),
            hash: sync::comment_hash(body),
            until_ms: echo_until_ms,
        };
        let comment = |comment_id: &str, peer_comment_id: Option<String>| CommentWrite {
            instance: event.instance.clone(),
            issue_id: event.issue.id.clone(),
            connection: connection.clone(),
            comment_id: comment_id.to_owned(),
            peer_comment_id,
        };

        let (action, target) = match (applied, &event.change) {
            (Applied::Skipped(reason), _) => {
                // A skip wrote nothing to the target, so it does not count toward the cap.
                self.store.commit(&skipped_commit).await?;
                metrics::count_reason(event.tracker.route(), metrics::SKIPPED, reason.code());
                info!(outcome = "skipped", reason = reason.code(), "event skipped");
                return Ok(Outcome::Skipped(reason.clone()));
            }
            (Applied::Created(created), _) => {
                commit.links.push(source_link(created, Some(event.at_ms)));
                commit.links.push(target_link(created));
                ("created", created.key.clone())
            }
            (Applied::Updated, _) => {
                let peer = peer.expect("updates need a peer");
                commit.links.push(source_link(peer, Some(event.at_ms)));
                commit.links.push(target_link(peer));
                ("updated", peer.key.clone())
            }
            (Applied::CommentAdded { peer_comment }, Change::CommentCreated { comment: c }) => {
                commit
                    .comments
                    .push(comment(&c.id, Some(peer_comment.clone())));
                let body = sync::attributed_comment(event, &c.body, &c.author.name);
                commit
                    .written_comments
                    .push(written_comment(peer_comment, &body));
                (
                    "comment_added",
                    peer.map(|p| p.key.clone()).unwrap_or_default(),
                )
            }
            (Applied::CommentDeleted, Change::CommentDeleted { comment_id }) => {
                commit.comments.push(comment(comment_id, None));
                (
                    "comment_deleted",
                    peer.map(|p| p.key.clone()).unwrap_or_default(),
                )
            }
            (Applied::CommentUpdated, Change::CommentUpdated { comment: c }) => {
                if let Some(peer_comment) = written.peer_comment {
                    let body = sync::attributed_comment(event, &c.body, &c.author.name);
                    commit
                        .written_comments
                        .push(written_comment(peer_comment, &body));
                }
                (
                    "comment_updated",
                    peer.map(|p| p.key.clone()).unwrap_or_default(),
                )
            }
            (other, _) => unreachable!("apply returned {other:?} for {:?}", event.change),
        };
        self.store.commit(&commit).await?;
        let source = event.tracker.route();
        metrics::count(source, metrics::SYNCED, 1);
        if replaying.is_some() {
            metrics::count(source, metrics::REPLAYED, 1);
        }
        metrics::duration_ms(
            source,
            metrics::END_TO_END_LATENCY,
            (crate::time_util::now_ms() - event.at_ms) as f64,
        );
        info!(
            outcome = "synced",
            action,
            target = target.as_str(),
            "event synced"
        );
        Ok(Outcome::Synced { action, target })
    }

    /// Returns true when a comment event reports a comment that proxysync itself wrote within
    /// the echo window: a new comment it created, or an edit to the body it last wrote.
    async fn is_comment_echo(
        &self,
        event: &ChangeEvent,
        connection: &str,
    ) -> Result<bool, StoreError> {
        let (comment, edited) = match &event.change {
            Change::CommentCreated { comment } => (comment, false),
            Change::CommentUpdated { comment } => (comment, true),
            _ => return Ok(false),
        };
        let written = self
            .store
            .get_written_comment(&event.instance, &event.issue.id, connection, &comment.id)
            .await?;
        Ok(match written {
            Some(hash) => !edited || hash == sync::comment_hash(&comment.body),
            None => false,
        })
    }

    /// Counts an event by the proxy user that proxysync did not write, a sign that people use
    /// the proxy account, which `proxysync doctor` reports.
    ///
    /// The webhook of a write can arrive before proxysync stored that write, so an event that
    /// matches nothing is checked again once `proxy_check_delay` has passed since `received`.
    async fn check_proxy_change(
        &self,
        config: &Config,
        event: &ChangeEvent,
        received: Instant,
        deadline: Instant,
    ) {
        let delay = self.settings.proxy_check_delay;
        if delay.is_zero() {
            return;
        }
        let connections: Vec<&str> = config
            .connections
            .iter()
            .filter(|connection| connection.route(&event.instance, &event.project).is_some())
            .map(|connection| connection.id.as_str())
            .collect();
        if connections.is_empty() {
            return;
        }
        let mut explained = self.proxy_change_explained(event, &connections).await;
        if matches!(explained, Ok(false)) {
            tokio::time::sleep_until((received + delay).min(deadline)).await;
            explained = self.proxy_change_explained(event, &connections).await;
        }
        match explained {
            Ok(true) => {}
            Ok(false) => {
                warn!(
                    issue = %event.issue.key,
                    kind = %event.kind,
                    "the proxy user made a change that proxysync did not write, so people may be \
                     using the proxy account; their changes are not synced (see `proxysync doctor`)"
                );
                metrics::count(event.tracker.route(), metrics::PROXY_CHANGES_NOT_WRITTEN, 1);
                let noted = self
                    .store
                    .note_proxy_use(&event.instance, &event.issue.key, &event.kind, now_ms())
                    .await;
                if let Err(error) = noted {
                    warn!(error = %error, "could not count the proxy user's change");
                }
            }
            Err(error) => {
                warn!(error = %error, "could not check the proxy user's change against proxysync's writes");
            }
        }
    }

    /// Returns true when proxysync wrote what a proxy user's event reports, on any connection.
    ///
    /// NOTE: a heuristic. A comment deletion always counts as proxysync's, and any comment on
    /// a linked issue counts as proxysync's while a field echo is open or when it names the
    /// linked issue's URL, as attribution lines and link comments do.
    async fn proxy_change_explained(
        &self,
        event: &ChangeEvent,
        connections: &[&str],
    ) -> Result<bool, StoreError> {
        for connection in connections {
            let link = self
                .store
                .get_link(&event.instance, &event.issue.id, connection)
                .await?;
            let Some(link) = link.filter(|link| link.peer.is_some()) else {
                continue;
            };
            let explained = match &event.change {
                Change::IssueCreated | Change::IssueUpdated { .. } => {
                    let (_, other) = sync::split_echoes(event, &link.field_echoes);
                    other.is_empty()
                        || link.echo.as_deref() == Some(sync::fingerprint(&event.content).as_str())
                }
                Change::CommentCreated { comment } | Change::CommentUpdated { comment } => {
                    let peer_url = link.peer.as_ref().map(|peer| peer.url.as_str());
                    !link.field_echoes.is_empty()
                        || peer_url.is_some_and(|url| !url.is_empty() && comment.body.contains(url))
                        || self
                            .store
                            .get_written_comment(
                                &event.instance,
                                &event.issue.id,
                                connection,
                                &comment.id,
                            )
                            .await?
                            .is_some()
                }
                Change::CommentDeleted { .. } => true,
            };
            if explained {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Adds the cross-links of a new peer; a failure here is logged, since the sync itself is stored.
    async fn link_created(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        module: &'static dyn TrackerModule,
        created: &crate::model::IssueRef,
        deadline: Instant,
    ) {
        let config = match self.config(false).await {
            Ok(config) => config,
            Err(error) => {
                warn!(error = %error, "could not add cross-links");
                return;
            }
        };
        let source_peer = Peer {
            tracker: event.tracker.display_name(),
            issue: &event.issue,
        };
        let mut result = self
            .link_with_reauth(
                route.target_instance,
                module,
                created,
                &source_peer,
                deadline,
            )
            .await;
        if result.is_ok()
            && let Some(source_instance) = config.instance(&event.instance)
        {
            let target_peer = Peer {
                tracker: route.target_instance.tracker.display_name(),
                issue: created,
            };
            let source_module =
                trackers::module(event.tracker).expect("events come from supported trackers");
            result = self
                .link_with_reauth(
                    source_instance,
                    source_module,
                    &event.issue,
                    &target_peer,
                    deadline,
                )
                .await;
        }
        if let Err(error) = result {
            warn!(error = %error, target = %created.key, "linked issue created, but adding the cross-links failed");
        }
    }

    /// Adds the link to `peer` on `issue` of `instance`. After a 401 it refreshes the credentials
    /// as a sync write does and retries once. The rejected call wrote nothing, so the retry cannot
    /// add the link twice.
    async fn link_with_reauth(
        &self,
        instance: &Instance,
        module: &'static dyn TrackerModule,
        issue: &crate::model::IssueRef,
        peer: &Peer<'_>,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut reload = false;
        loop {
            let api = self
                .api(instance, deadline, reload)
                .await
                .map_err(|e| e.to_string())?;
            match module.target().link(&api, issue, peer).await {
                Err(error) if error.is_unauthorized() && !reload => {
                    warn!(instance = %instance.id, "tracker rejected the credentials while linking; reading the secret again");
                    self.refresh_oauth(instance, deadline).await;
                    reload = true;
                }
                result => return result.map_err(|e| e.to_string()),
            }
        }
    }

    async fn skip(
        &self,
        event: &ChangeEvent,
        reason: SkipReason,
        finish: Option<&str>,
        replaying: Option<&ParkedEvent>,
    ) -> Result<Outcome, StoreError> {
        let commit = Commit {
            finish_delivery: finish.map(str::to_owned),
            delete_parked: replaying.map(|parked| parked.id.clone()),
            ..Commit::default()
        };
        self.store.commit(&commit).await?;
        metrics::count_reason(event.tracker.route(), metrics::SKIPPED, reason.code());
        info!(outcome = "skipped", reason = reason.code(), "event skipped");
        Ok(Outcome::Skipped(reason))
    }

    async fn park(
        &self,
        event: &ChangeEvent,
        route: &Route<'_>,
        finish: Option<&str>,
        replaying: Option<&ParkedEvent>,
        error: &TargetError,
    ) -> Result<(Outcome, bool), StoreError> {
        let now = now_ms();
        let code = error_code(error);
        metrics::count(event.tracker.route(), metrics::PARKED, 1);
        if code != WRITE_CAP_CODE {
            metrics::target_error(route.target_instance.tracker, &code);
        }
        if let Some(previous) = replaying {
            let mut updated = previous.clone();
            updated.attempts += 1;
            updated.error = error.to_string();
            updated.error_code = Some(code);
            updated.next_attempt_ms = now + replay_backoff_ms(updated.attempts);
            self.store.update_parked(&updated).await?;
            warn!(outcome = "parked", attempts = updated.attempts, error = %error, "replay failed; event stays parked");
            return Ok((
                Outcome::Parked {
                    error: error.to_string(),
                },
                false,
            ));
        }

        let mut parked = ParkedEvent {
            id: String::new(),
            event: event.clone(),
            connection: route.connection.id.clone(),
            delivery_key: finish.map(str::to_owned).unwrap_or_default(),
            error: error.to_string(),
            error_code: Some(code),
            attempts: 0,
            parked_at_ms: now,
            next_attempt_ms: now + replay_backoff_ms(0),
        };
        self.store.park(&mut parked, finish.is_some()).await?;
        warn!(outcome = "parked", parked_id = parked.id.as_str(), error = %error, "target failed past the budget; event parked");
        Ok((
            Outcome::Parked {
                error: error.to_string(),
            },
            finish.is_some(),
        ))
    }

    /// Retries parked events whose next attempt is due, oldest first.
    ///
    /// An issue whose older event fails keeps its newer events parked too, so
    /// events of one issue are applied in order.
    ///
    /// # Errors
    /// A DynamoDB failure; events already replayed stay replayed.
    pub async fn replay_parked(
        &self,
        force: bool,
        budget: Duration,
    ) -> Result<ReplayReport, StoreError> {
        self.replay_parked_until(force, budget, None).await
    }

    /// Retries parked events like [`Pipeline::replay_parked`], starting no event after `stop_at`,
    /// so a scheduled run ends before its Lambda timeout; the rest count as waiting.
    ///
    /// # Errors
    /// A DynamoDB failure; events already replayed stay replayed.
    pub async fn replay_parked_until(
        &self,
        force: bool,
        budget: Duration,
        stop_at: Option<Instant>,
    ) -> Result<ReplayReport, StoreError> {
        let config = self.config(true).await?;
        let mut report = ReplayReport::default();
        let mut blocked: Vec<(String, String)> = Vec::new();
        let now = now_ms();

        let mut parked_events = self.store.list_parked().await?;
        // The table lists by parking time, but a tracker's retries can park an issue's changes out
        // of order, so each issue's events go in the order they happened on the tracker.
        parked_events.sort_by(|a, b| {
            (a.event.at_ms, a.parked_at_ms, &a.id).cmp(&(b.event.at_ms, b.parked_at_ms, &b.id))
        });
        for parked in parked_events {
            let issue = (parked.event.instance.clone(), parked.event.issue.id.clone());
            let out_of_time = stop_at.is_some_and(|stop| Instant::now() + budget > stop);
            if out_of_time || blocked.contains(&issue) || (!force && parked.next_attempt_ms > now) {
                report.waiting += 1;
                blocked.push(issue);
                continue;
            }
            let Some(route) = find_route(&config, &parked) else {
                warn!(
                    parked_id = parked.id.as_str(),
                    connection = parked.connection.as_str(),
                    "parked event's connection is gone; dropping it"
                );
                self.store.delete_parked(&parked.id).await?;
                report.skipped += 1;
                continue;
            };
            let deadline = Instant::now() + budget;
            let (outcome, _) = self
                .sync_route(&parked.event, &route, deadline, None, Some(&parked))
                .await?;
            match outcome {
                Outcome::Synced { .. } => report.replayed += 1,
                Outcome::Skipped(_) => report.skipped += 1,
                Outcome::Parked { .. } => {
                    report.failed += 1;
                    blocked.push(issue);
                }
            }
        }
        info!(
            replayed = report.replayed,
            skipped = report.skipped,
            failed = report.failed,
            waiting = report.waiting,
            "replay run finished"
        );
        Ok(report)
    }
}

/// Verifies `request` with the instance's webhook secret, or with the previous one during a rotation.
fn verify_with(
    module: &'static dyn TrackerModule,
    instance: &Instance,
    request: &InboundRequest,
    credentials: &crate::tracker::Credentials,
) -> Result<(), Abort> {
    let secret = credentials.webhook_secret.as_ref().ok_or_else(|| {
        Abort::Setup(format!(
            "secret {} has no webhook_secret field: add the secret the tracker signs webhooks with",
            instance.secret
        ))
    })?;
    let verified = module.source().verify_for(instance, request, secret);
    match (verified, credentials.previous_webhook_secret.as_ref()) {
        (Err(Rejection::BadSignature(_)), Some(previous)) => {
            module.source().verify_for(instance, request, previous)?;
            info!(
                "webhook verified with the previous webhook secret; finish the rotation on the tracker"
            );
            Ok(())
        }
        (result, _) => Ok(result?),
    }
}

fn find_route<'a>(config: &'a Config, parked: &ParkedEvent) -> Option<Route<'a>> {
    let connection = config
        .connections
        .iter()
        .find(|c| c.id == parked.connection)?;
    let (source, target) = connection.route(&parked.event.instance, &parked.event.project)?;
    Some(Route {
        connection,
        source,
        target,
        target_instance: config.instance(&target.instance)?,
    })
}

/// Exponential backoff for replays: 30 s doubling up to 1 hour, with up to 20 % jitter.
fn replay_backoff_ms(attempts: u32) -> i64 {
    use rand::Rng;
    let base = (30_000i64 << attempts.min(7)).min(3_600_000);
    base + rand::rng().random_range(0..=base / 5)
}

/// The parked error code of events stopped by the per-issue write cap.
pub const WRITE_CAP_CODE: &str = "write_cap";
/// The start of the message of a [`TargetError::Refused`] raised by the write cap.
const WRITE_CAP_MESSAGE: &str = "write cap reached";

/// A short code for a target failure, stored with a parked event and used as a metric dimension.
pub fn error_code(error: &TargetError) -> String {
    match error {
        TargetError::Status { status, .. } => status.to_string(),
        TargetError::RateLimited { .. } => "429".to_owned(),
        TargetError::Unavailable { .. } => "unreachable".to_owned(),
        TargetError::BadResponse { .. } => "bad_response".to_owned(),
        TargetError::Refused(message) if message.starts_with(WRITE_CAP_MESSAGE) => {
            WRITE_CAP_CODE.to_owned()
        }
        TargetError::Refused(_) => "refused".to_owned(),
    }
}

fn module_of(instance: &Instance) -> Result<&'static dyn TrackerModule, String> {
    trackers::module(instance.tracker).ok_or_else(|| {
        format!(
            "instance {} uses tracker {}, which this build does not support yet",
            instance.id, instance.tracker
        )
    })
}

fn lease_ms(settings: &Settings) -> i64 {
    duration_ms(settings.claim_lease)
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The linked issue and linked comment that a sync wrote to.
#[derive(Clone, Copy)]
struct Written<'a> {
    peer: Option<&'a crate::model::IssueRef>,
    peer_comment: Option<&'a str>,
    /// The source issue's write counter to store, when the write cap is on.
    write_count: Option<&'a WriteCount>,
}

/// Builds the response to a storage failure without naming tables, secrets or AWS request ids,
/// which an unauthenticated caller must not learn; the log has the details.
fn store_failure_answer(error: &StoreError) -> WebhookResponse {
    let text = error.to_string();
    if text.contains("ResourceNotFoundException")
        || matches!(
            error,
            StoreError::InvalidSecret { .. } | StoreError::MissingTable { .. }
        )
    {
        let message = "proxysync is not set up: a table or secret it needs is missing or invalid (see the function's log)";
        return WebhookResponse::error(500, "not_set_up", message.to_owned());
    }
    let message = "proxysync could not reach DynamoDB or Secrets Manager; nothing was stored, so retry the delivery";
    WebhookResponse::error(503, "unavailable", message.to_owned())
}

/// Builds the response for an instance that is not set up. It names neither the secret nor the
/// settings, because an unauthenticated caller must not learn them; the log has the details.
fn not_ready_answer(instance_id: &str) -> WebhookResponse {
    let message = format!(
        "instance {instance_id} is not set up to receive webhooks; the function's log names what \
         is missing, and `proxysync doctor` checks it"
    );
    WebhookResponse::error(500, "instance_not_ready", message)
}

fn body_digest(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

fn respond(outcome: &str, delivery_id: &str, events: Vec<Value>) -> WebhookResponse {
    WebhookResponse {
        status: 200,
        body: json!({"outcome": outcome, "delivery": delivery_id, "events": events}),
    }
}
