//! Metrics in CloudWatch Embedded Metric Format (EMF), written to stdout.
//!
//! Lambda sends stdout to CloudWatch Logs, which turns each EMF line into
//! metric data points, so publishing costs no API call. Code counts into the
//! [`Recorder`] of the current task (see [`scope`]). The function binaries open
//! one scope per invocation and write its lines when the invocation ends, which
//! is one line per dimension group, usually a single line.
//!
//! Every metric carries the `Tracker` dimension and is also published without
//! it. Metrics with a `Reason` or `Status` are published with that dimension
//! alone and with none as well, so one alarm can watch every tracker, or every
//! reason, at once. Calls outside a scope record nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::model::TrackerKind;
use crate::time_util::now_ms;

/// The CloudWatch namespace unless `PROXYSYNC_METRICS_NAMESPACE` names another.
pub const DEFAULT_NAMESPACE: &str = "proxysync";

/// Webhooks (or polled batches) received.
pub const EVENTS_RECEIVED: &str = "EventsReceived";
/// Events written onto the connected tracker.
pub const SYNCED: &str = "Synced";
/// Events skipped on purpose, with a `Reason` dimension.
pub const SKIPPED: &str = "Skipped";
/// Deliveries that were already handled.
pub const DUPLICATES: &str = "Duplicates";
/// Requests rejected before anything was stored, with a `Reason` dimension.
pub const REJECTED: &str = "Rejected";
/// Events parked for replay.
pub const PARKED: &str = "Parked";
/// Parked events applied by a replay.
pub const REPLAYED: &str = "Replayed";
/// Target calls that failed past their retries, with a `Status` dimension.
pub const TARGET_ERRORS: &str = "TargetErrors";
/// Milliseconds from receiving a webhook to sending its response.
pub const LATENCY: &str = "Latency";
/// Milliseconds from the change on the source tracker to its write on the target.
pub const END_TO_END_LATENCY: &str = "EndToEndLatency";
/// Lost events that a catch-up run found (redelivered or synced).
pub const CATCH_UP_FOUND: &str = "CatchUpFound";
/// OAuth access tokens refreshed.
pub const TOKEN_REFRESHES: &str = "TokenRefreshes";
/// OAuth token refreshes that failed.
pub const TOKEN_REFRESH_FAILURES: &str = "TokenRefreshFailures";
/// The minimum seconds left before any access or refresh token of the tracker expires.
pub const TOKEN_SECONDS_LEFT: &str = "TokenSecondsLeft";
/// Changes by the proxy user that proxysync did not write: a sign that people use the proxy account.
pub const PROXY_CHANGES_NOT_WRITTEN: &str = "ProxyChangesNotWritten";

/// The CloudWatch unit of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// The rule that combines repeated values of one metric in one invocation.
#[derive(Clone, Copy, Debug)]
enum Combine {
    Sum,
    Min,
    /// Every value is kept, so CloudWatch computes the statistics (latencies).
    List,
}

/// The dimensions of one group of metrics, such as `Tracker=github, Reason=echo`.
type Dimensions = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Group {
    metrics: BTreeMap<&'static str, (Unit, Vec<f64>)>,
}

/// The metrics of one invocation, rendered as EMF lines when it ends.
#[derive(Debug)]
pub struct Recorder {
    namespace: String,
    groups: Mutex<BTreeMap<Dimensions, Group>>,
}

impl Recorder {
    /// Creates an empty recorder that publishes into `namespace`.
    pub fn new(namespace: impl Into<String>) -> Arc<Recorder> {
        Arc::new(Recorder {
            namespace: namespace.into(),
            groups: Mutex::new(BTreeMap::new()),
        })
    }

    /// Creates a recorder for the namespace in `PROXYSYNC_METRICS_NAMESPACE`, or `proxysync`.
    pub fn from_env() -> Arc<Recorder> {
        let namespace = std::env::var("PROXYSYNC_METRICS_NAMESPACE")
            .ok()
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        Recorder::new(namespace)
    }

    fn add(
        &self,
        dimensions: Dimensions,
        name: &'static str,
        unit: Unit,
        value: f64,
        how: Combine,
    ) {
        let mut groups = self.groups.lock().expect("metrics lock poisoned");
        let group = groups.entry(dimensions).or_default();
        let (_, values) = group.metrics.entry(name).or_insert((unit, Vec::new()));
        match (how, values.first_mut()) {
            (Combine::Sum, Some(total)) => *total += value,
            (Combine::Min, Some(least)) => *least = least.min(value),
            _ => values.push(value),
        }
    }

    /// Renders the recorded metrics as EMF documents, one per dimension group, and clears them.
    pub fn take_lines(&self) -> Vec<String> {
        let groups = std::mem::take(&mut *self.groups.lock().expect("metrics lock poisoned"));
        let timestamp = now_ms();
        groups
            .into_iter()
            .filter(|(_, group)| !group.metrics.is_empty())
            .map(|(dimensions, group)| self.document(timestamp, &dimensions, &group).to_string())
            .collect()
    }

    /// Writes the recorded metrics to stdout, where Lambda's log capture finds them.
    pub fn flush(&self) {
        use std::io::Write;
        let lines = self.take_lines();
        if lines.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        for line in lines {
            // A closed stdout loses the metrics but must not fail the invocation.
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }

    fn document(&self, timestamp: i64, dimensions: &Dimensions, group: &Group) -> Value {
        let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
        // The same metrics without the tracker, so one alarm covers every tracker.
        let rollup: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| *name != "Tracker")
            .collect();
        let mut dimension_sets = vec![names.clone(), rollup.clone()];
        if !rollup.is_empty() {
            // A total over every reason or status, for alarms on any of them.
            dimension_sets.push(Vec::new());
        }
        let metrics: Vec<Value> = group
            .metrics
            .iter()
            .map(|(name, (unit, _))| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();

        let mut document = Map::new();
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": metrics,
                }],
            }),
        );
        for (name, value) in dimensions {
            document.insert((*name).to_owned(), json!(value));
        }
        for (name, (_, values)) in &group.metrics {
            let value = match values.as_slice() {
                [single] => json!(single),
                many => json!(many),
            };
            document.insert((*name).to_owned(), value);
        }
        Value::Object(document)
    }
}

tokio::task_local! {
    static CURRENT: Arc<Recorder>;
}

/// Runs `future` with `recorder` as the recorder that the functions of this module count into.
pub async fn scope<F: std::future::Future>(recorder: Arc<Recorder>, future: F) -> F::Output {
    CURRENT.scope(recorder, future).await
}

/// Runs `future` in a new scope and writes its metrics to stdout when it ends.
pub async fn flushed<F: std::future::Future>(future: F) -> F::Output {
    let recorder = Recorder::from_env();
    let output = scope(recorder.clone(), future).await;
    recorder.flush();
    output
}

fn record(dimensions: Dimensions, name: &'static str, unit: Unit, value: f64, how: Combine) {
    // Outside a scope there is nowhere to publish, so the value is dropped.
    let _ = CURRENT.try_with(|recorder| recorder.add(dimensions, name, unit, value, how));
}

fn tracker(kind: &str) -> Dimensions {
    vec![("Tracker", kind.to_owned())]
}

/// Adds `count` to a counter of `tracker_name`, the tracker's webhook route such as `github` or `jira`.
pub fn count(tracker_name: &str, name: &'static str, count: u64) {
    record(
        tracker(tracker_name),
        name,
        Unit::Count,
        count as f64,
        Combine::Sum,
    );
}

/// Counts one event of `name` with a `Reason` dimension, such as a skip or a rejection.
pub fn count_reason(tracker_name: &str, name: &'static str, reason: &str) {
    let mut dimensions = tracker(tracker_name);
    dimensions.push(("Reason", reason.to_owned()));
    record(dimensions, name, Unit::Count, 1.0, Combine::Sum);
}

/// Counts a target call that failed past its retries. `status` is the HTTP status, or a kind
/// such as `unreachable`.
pub fn target_error(target: TrackerKind, status: &str) {
    let mut dimensions = tracker(target.route());
    dimensions.push(("Status", status.to_owned()));
    record(dimensions, TARGET_ERRORS, Unit::Count, 1.0, Combine::Sum);
}

/// Records one duration sample in milliseconds, such as [`LATENCY`].
pub fn duration_ms(tracker_name: &str, name: &'static str, millis: f64) {
    record(
        tracker(tracker_name),
        name,
        Unit::Milliseconds,
        millis.max(0.0),
        Combine::List,
    );
}

/// Counts a token refresh of `tracker`, successful or not.
///
/// For token refreshers; a failure also deserves an `error` log line naming the instance.
pub fn token_refresh(tracker_kind: TrackerKind, ok: bool) {
    let name = if ok {
        TOKEN_REFRESHES
    } else {
        TOKEN_REFRESH_FAILURES
    };
    count(tracker_kind.route(), name, 1);
}

/// Records the seconds left on a token of `tracker_kind`, and an invocation keeps the minimum.
pub fn token_seconds_left(tracker_kind: TrackerKind, seconds: i64) {
    record(
        tracker(tracker_kind.route()),
        TOKEN_SECONDS_LEFT,
        Unit::Seconds,
        seconds as f64,
        Combine::Min,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[String]) -> Vec<Value> {
        lines
            .iter()
            .map(|line| serde_json::from_str(line).expect("EMF lines are JSON"))
            .collect()
    }

    #[tokio::test]
    async fn counters_sum_in_one_line() {
        let recorder = Recorder::new("test");
        scope(recorder.clone(), async {
            count("github", EVENTS_RECEIVED, 1);
            count("github", SYNCED, 1);
            count("github", SYNCED, 2);
            duration_ms("github", LATENCY, 12.0);
            duration_ms("github", LATENCY, 30.0);
        })
        .await;
        let documents = parse(&recorder.take_lines());
        assert_eq!(documents.len(), 1, "{documents:?}");
        let document = &documents[0];
        assert_eq!(document["Tracker"], "github");
        assert_eq!(document["Synced"], 3.0);
        assert_eq!(document["EventsReceived"], 1.0);
        assert_eq!(document["Latency"], json!([12.0, 30.0]));

        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "test");
        assert_eq!(directive["Dimensions"], json!([["Tracker"], []]));
        let units: Vec<(String, String)> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().to_owned(),
                    m["Unit"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(units.contains(&("Latency".to_owned(), "Milliseconds".to_owned())));
        assert!(units.contains(&("Synced".to_owned(), "Count".to_owned())));
        assert!(document["_aws"]["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    }

    #[tokio::test]
    async fn reasons_get_their_own_group() {
        let recorder = Recorder::new("test");
        scope(recorder.clone(), async {
            count_reason("jira", REJECTED, "bad_signature");
            count_reason("jira", SKIPPED, "echo");
            target_error(TrackerKind::Github, "503");
        })
        .await;
        let documents = parse(&recorder.take_lines());
        assert_eq!(documents.len(), 3, "{documents:?}");
        let rejected = documents
            .iter()
            .find(|d| d.get("Rejected").is_some())
            .unwrap();
        assert_eq!(rejected["Reason"], "bad_signature");
        assert_eq!(
            rejected["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Tracker", "Reason"], ["Reason"], []])
        );
        let errors = documents
            .iter()
            .find(|d| d.get("TargetErrors").is_some())
            .unwrap();
        assert_eq!(errors["Tracker"], "github");
        assert_eq!(errors["Status"], "503");
    }

    #[tokio::test]
    async fn token_seconds_keep_minimum() {
        let recorder = Recorder::new("test");
        scope(recorder.clone(), async {
            token_seconds_left(TrackerKind::Servicenow, 900);
            token_seconds_left(TrackerKind::Servicenow, 300);
            token_refresh(TrackerKind::Servicenow, false);
        })
        .await;
        let documents = parse(&recorder.take_lines());
        assert_eq!(documents[0]["TokenSecondsLeft"], 300.0);
        assert_eq!(documents[0]["TokenRefreshFailures"], 1.0);
    }

    #[tokio::test]
    async fn outside_scope_records_nothing() {
        count("github", SYNCED, 1);
        let recorder = Recorder::new("test");
        assert!(recorder.take_lines().is_empty());
    }

    #[tokio::test]
    async fn take_lines_clears() {
        let recorder = Recorder::new("test");
        scope(recorder.clone(), async { count("github", PARKED, 1) }).await;
        assert_eq!(recorder.take_lines().len(), 1);
        assert!(recorder.take_lines().is_empty());
    }
}
