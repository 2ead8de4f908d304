//! The measurements: cold starts, warm runs, call counts, peak memory and package sizes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use proxysync_tests::aws_proxy::{AwsCall, AwsProxy};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Args;
use crate::local::{LinkedIssue, Local, Webhook, api_gateway_event};
use crate::runtime::{Answer, RuntimeApi};

/// How long one invocation may take before the run fails.
const INVOCATION_LIMIT: Duration = Duration::from_secs(30);
/// Proxy-authored events sent to count the calls they cause.
const PROXY_EVENTS: usize = 20;

/// The table whose instances call the trackers directly, and the one whose instances call
/// them through the timing proxy.
const DIRECT_TABLE: &str = "proxysync-bench";
const TIMED_TABLE: &str = "proxysync-bench-timed";

/// A webhook function under test: its binary, its route, the instance its events come
/// from, and the edit that produces them. A new function adds one line to `FUNCTIONS`.
pub struct FunctionCase {
    pub name: &'static str,
    pub route: &'static str,
    pub instance: &'static str,
    pub edit: Edit,
}

/// The human edit that produces a function's webhooks.
#[derive(Clone, Copy)]
pub enum Edit {
    /// Renames the GitHub issue: an `issues` `edited` webhook, synced to Jira.
    GithubTitle,
    /// Renames the Jira issue: a `jira:issue_updated` webhook, synced to GitHub.
    JiraSummary,
}

pub const FUNCTIONS: &[FunctionCase] = &[
    FunctionCase {
        name: "github-webhook",
        route: "github",
        instance: "acme-github",
        edit: Edit::GithubTitle,
    },
    FunctionCase {
        name: "jira-webhook",
        route: "jira",
        instance: "acme-jira",
        edit: Edit::JiraSummary,
    },
];

/// Summary statistics of a sample, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Stats {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        if ms.is_empty() {
            return Stats::default();
        }
        let at = |share: f64| ms[((ms.len() - 1) as f64 * share).round() as usize];
        Stats {
            min: ms[0],
            median: at(0.5),
            p90: at(0.9),
            max: ms[ms.len() - 1],
        }
    }
}

/// Cold starts of one function or of the Python handler.
#[derive(Debug, Default)]
pub struct ColdStart {
    pub name: String,
    /// Process start to the first response.
    pub total: Stats,
    /// Process start to the first `next` poll: runtime, SDK and client set-up.
    pub init: Stats,
    /// The first invocation, from `next` to the response, with cold caches.
    pub first_invocation: Stats,
}

/// A warm run of one function with direct endpoints.
#[derive(Debug, Default)]
pub struct WarmRun {
    pub name: String,
    pub events: usize,
    pub payload_bytes: usize,
    /// Time per event from `next` to the response.
    pub per_event: Stats,
    /// The highest resident set size of the process (VmHWM), in KiB.
    pub peak_rss_kib: u64,
}

/// Calls and own time of the GitHub function through the counting proxies.
#[derive(Debug, Default)]
pub struct TimedRun {
    pub events: usize,
    pub per_event: Stats,
    pub calls_time: Stats,
    pub own_time: Stats,
    /// The most DynamoDB, Secrets Manager and tracker calls of one synced edit.
    pub max_dynamodb: usize,
    pub max_secrets: usize,
    pub max_tracker: usize,
    /// The DynamoDB operations of one synced edit, in order.
    pub dynamodb_operations: Vec<String>,
    pub proxy_events: usize,
    /// AWS writes and all AWS calls over all proxy-authored events.
    pub proxy_writes: usize,
    pub proxy_calls: usize,
    pub proxy_outcome: String,
}

/// The unavoidable calls of one synced edit, measured by the bench on the same servers.
#[derive(Debug, Default)]
pub struct Baseline {
    pub claim_put: Stats,
    pub link_get: Stats,
    pub commit_transaction: Stats,
    pub target_put: Stats,
}

#[derive(Debug, Default)]
pub struct Results {
    pub cold: Vec<ColdStart>,
    pub python_cold: ColdStart,
    pub warm: Vec<WarmRun>,
    pub timed: TimedRun,
    pub baseline: Baseline,
    /// Function name and zip size in bytes.
    pub packages: Vec<(String, u64)>,
    pub started: String,
    pub seconds: f64,
}

pub struct Bench<'a> {
    root: PathBuf,
    target: PathBuf,
    local: &'a Local,
    events: usize,
    cold_runs: usize,
    timed_events: usize,
    issues: usize,
    counter: usize,
}

/// Returns the body of every benchmark issue: Markdown with the usual constructs, sized so that a
/// GitHub `issues` webhook for the issue is about 25 KB.
pub fn issue_body() -> String {
    let section = "## Steps\n\n1. Open **Settings** and pick *Billing*.\n2. Press `Save` twice.\n\
                   3. See [the log](https://example.com/logs/1234).\n\n> The form keeps the old \
                   value and shows a spinner for ever.\n\n```text\nERROR billing: stale \
                   version 41 != 42\n```\n\n- Firefox 128 on Linux\n- Chrome 126 on macOS\n\n";
    section.repeat(80)
}

impl<'a> Bench<'a> {
    pub fn new(root: &Path, target: &Path, local: &'a Local, args: &Args) -> Bench<'a> {
        Bench {
            root: root.to_owned(),
            target: target.to_owned(),
            local,
            events: args.events,
            cold_runs: args.cold_runs,
            timed_events: args.timed_events,
            issues: args.issues.max(1),
            counter: 0,
        }
    }

    pub async fn run(&mut self) -> anyhow::Result<Results> {
        let started = Instant::now();
        let mut results = Results {
            started: time::OffsetDateTime::now_utc().to_string(),
            ..Results::default()
        };
        let body = issue_body();
        eprintln!("bench: linking {} issue pairs", self.issues);
        let local = self.local;
        let direct = local
            .setup_table(
                DIRECT_TABLE,
                &local.github_url(),
                &local.jira_url(),
                self.issues,
                &body,
            )
            .await?;

        for case in FUNCTIONS {
            eprintln!("bench: cold starts of {}", case.name);
            let binary = self.function_binary(case.name)?;
            results
                .cold
                .push(self.cold_starts(case, &binary, &direct).await?);
        }
        eprintln!("bench: cold starts of the Python handler");
        results.python_cold = self.python_cold_starts(&direct).await?;

        for case in FUNCTIONS {
            eprintln!("bench: {} warm events to {}", self.events, case.name);
            let binary = self.function_binary(case.name)?;
            results
                .warm
                .push(self.warm_run(case, &binary, &direct).await?);
        }

        eprintln!("bench: unavoidable calls, measured directly");
        results.baseline = self.baseline(&direct, &body).await?;

        eprintln!(
            "bench: {} events through the counting proxies",
            self.timed_events
        );
        results.timed = self.timed_run(&body).await?;

        results.packages = self.packages()?;
        results.seconds = started.elapsed().as_secs_f64();
        Ok(results)
    }

    fn function_binary(&self, name: &str) -> anyhow::Result<PathBuf> {
        let candidates = [
            self.target.join("lambda").join(name).join("bootstrap"),
            self.target
                .join("x86_64-unknown-linux-gnu/release")
                .join(name),
        ];
        candidates
            .into_iter()
            .find(|path| path.is_file())
            .with_context(|| format!("no release binary of {name}: run without --skip-build"))
    }

    /// Makes the next event of `case` by editing issue pair `index` as a person.
    async fn next_event(
        &mut self,
        case: &FunctionCase,
        linked: &[LinkedIssue],
    ) -> anyhow::Result<(Value, usize)> {
        self.counter += 1;
        let pair = &linked[self.counter % linked.len()];
        let title = format!("Bench edit {}", self.counter);
        // The echoes of the previous event's writes are not part of this one.
        self.local.drain().await?;
        let webhook = match case.edit {
            Edit::GithubTitle => {
                self.local.github_rename(pair.number, &title, false).await?;
                self.local.take_one("github").await?
            }
            Edit::JiraSummary => {
                self.local.jira_rename(&pair.jira_key, &title).await?;
                self.local.take_one("jira").await?
            }
        };
        Ok(event_of(case, &webhook))
    }

    async fn cold_starts(
        &mut self,
        case: &FunctionCase,
        binary: &Path,
        linked: &[LinkedIssue],
    ) -> anyhow::Result<ColdStart> {
        let endpoints = Endpoints::direct(self.local, DIRECT_TABLE);
        let mut command = |runtime: &RuntimeApi| spawn(binary, runtime, &endpoints);
        let mut samples = Vec::new();
        for _ in 0..self.cold_runs {
            let (event, _) = self.next_event(case, linked).await?;
            samples.push(cold_start(&mut command, event).await?);
        }
        Ok(cold_summary(case.name, &samples))
    }

    async fn python_cold_starts(&mut self, linked: &[LinkedIssue]) -> anyhow::Result<ColdStart> {
        let python = self.root.join(".venv/bin/python");
        let script = self.root.join("bench/python/bootstrap.py");
        let endpoints = Endpoints::direct(self.local, DIRECT_TABLE);
        let mut command = |runtime: &RuntimeApi| -> anyhow::Result<Child> {
            let mut command = Command::new(&python);
            command.arg(&script);
            lambda_environment(&mut command, runtime, &endpoints);
            Ok(command.spawn()?)
        };
        let mut samples = Vec::new();
        for _ in 0..self.cold_runs {
            let (event, _) = self.next_event(&FUNCTIONS[0], linked).await?;
            samples.push(cold_start(&mut command, event).await?);
        }
        let pair = &linked[self.counter % linked.len()];
        let summary = self.local.jira_summary(&pair.jira_key).await?;
        if summary != format!("Bench edit {}", self.counter) {
            bail!(
                "the Python handler did not update {}: {summary:?}",
                pair.jira_key
            );
        }
        Ok(cold_summary("Python 3 (boto3, requests)", &samples))
    }

    async fn warm_run(
        &mut self,
        case: &FunctionCase,
        binary: &Path,
        linked: &[LinkedIssue],
    ) -> anyhow::Result<WarmRun> {
        let mut runtime = RuntimeApi::start().await?;
        let endpoints = Endpoints::direct(self.local, DIRECT_TABLE);
        let mut child = KillOnDrop(spawn(binary, &runtime, &endpoints)?);
        let (event, _) = self.next_event(case, linked).await?;
        expect_processed(&runtime.invoke(event, INVOCATION_LIMIT).await?)?;

        let mut samples = Vec::with_capacity(self.events);
        let mut payload_bytes = 0;
        for _ in 0..self.events {
            let (event, size) = self.next_event(case, linked).await?;
            payload_bytes = size;
            let answer = runtime.invoke(event, INVOCATION_LIMIT).await?;
            expect_processed(&answer)?;
            samples.push(answer.answered_at - answer.fetched_at);
        }
        let peak_rss_kib = peak_rss_kib(child.0.id())?;
        child.stop();
        self.local.drain().await?;
        Ok(WarmRun {
            name: case.name.to_owned(),
            events: self.events,
            payload_bytes,
            per_event: Stats::of(&samples),
            peak_rss_kib,
        })
    }

    async fn timed_run(&mut self, body: &str) -> anyhow::Result<TimedRun> {
        let local = self.local;
        let dynamo = AwsProxy::start(&local.moto.url).await;
        let secrets = AwsProxy::start(&local.moto.url).await;
        let tracker = AwsProxy::start(&local.sandbox.url).await;
        let linked = local
            .setup_table(
                TIMED_TABLE,
                &format!("{}/github", tracker.endpoint()),
                &format!("{}/jira", tracker.endpoint()),
                self.issues,
                body,
            )
            .await?;
        let case = &FUNCTIONS[0];
        let binary = self.function_binary(case.name)?;
        let endpoints = Endpoints {
            table: TIMED_TABLE.to_owned(),
            dynamodb: dynamo.endpoint(),
            secrets_manager: secrets.endpoint(),
        };
        let mut runtime = RuntimeApi::start().await?;
        let mut child = KillOnDrop(spawn(&binary, &runtime, &endpoints)?);
        let (event, _) = self.next_event(case, &linked).await?;
        expect_processed(&runtime.invoke(event, INVOCATION_LIMIT).await?)?;

        let mut run = TimedRun {
            events: self.timed_events,
            ..TimedRun::default()
        };
        let (mut per_event, mut calls_time, mut own_time) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.timed_events {
            let (event, _) = self.next_event(case, &linked).await?;
            for proxy in [&dynamo, &secrets, &tracker] {
                proxy.take_calls();
            }
            let answer = runtime.invoke(event, INVOCATION_LIMIT).await?;
            expect_processed(&answer)?;
            let elapsed = answer.answered_at - answer.fetched_at;
            let dynamo_calls = dynamo.take_calls();
            let secret_calls = secrets.take_calls();
            let tracker_calls = tracker.take_calls();
            let spent: Duration = [&dynamo_calls, &secret_calls, &tracker_calls]
                .iter()
                .flat_map(|calls| calls.iter())
                .map(|call| call.duration)
                .sum();
            per_event.push(elapsed);
            calls_time.push(spent);
            own_time.push(elapsed.saturating_sub(spent));
            run.max_dynamodb = run.max_dynamodb.max(dynamo_calls.len());
            run.max_secrets = run.max_secrets.max(secret_calls.len());
            run.max_tracker = run.max_tracker.max(tracker_calls.len());
            run.dynamodb_operations = dynamo_calls.iter().map(|c| c.operation.clone()).collect();
        }
        run.per_event = Stats::of(&per_event);
        run.calls_time = Stats::of(&calls_time);
        run.own_time = Stats::of(&own_time);

        for index in 0..PROXY_EVENTS {
            let pair = &linked[index % linked.len()];
            let title = format!("Proxy edit {index}");
            local.drain().await?;
            local.github_rename(pair.number, &title, true).await?;
            let webhook = local.take_one("github").await?;
            let (event, _) = event_of(case, &webhook);
            for proxy in [&dynamo, &secrets, &tracker] {
                proxy.take_calls();
            }
            let answer = runtime.invoke(event, INVOCATION_LIMIT).await?;
            let calls: Vec<AwsCall> = dynamo
                .take_calls()
                .into_iter()
                .chain(secrets.take_calls())
                .collect();
            run.proxy_events += 1;
            run.proxy_calls += calls.len();
            run.proxy_writes += calls.iter().filter(|call| call.is_write()).count();
            run.proxy_outcome = outcome_of(&answer);
        }
        child.stop();
        local.drain().await?;
        Ok(run)
    }

    async fn baseline(&self, linked: &[LinkedIssue], body: &str) -> anyhow::Result<Baseline> {
        use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
        let s = |value: &str| AttributeValue::S(value.to_owned());
        let dynamo = &self.local.dynamo;
        let user = &self.local.config.jira.users[0];
        let description = proxysync_formats::markdown_to_adf(body);
        let (mut puts, mut gets, mut commits, mut targets) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());

        for index in 0..self.timed_events {
            let key = format!("delivery#baseline#{index}");
            let started = Instant::now();
            dynamo
                .put_item()
                .table_name(DIRECT_TABLE)
                .item("pk", s(&key))
                .item("sk", s("delivery"))
                .item("status", s("in_progress"))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await?;
            puts.push(started.elapsed());

            let started = Instant::now();
            dynamo
                .get_item()
                .table_name(DIRECT_TABLE)
                .key("pk", s("config"))
                .key("sk", s("connection#widgets"))
                .consistent_read(true)
                .send()
                .await?;
            gets.push(started.elapsed());

            let pair = &linked[index % linked.len()];
            let started = Instant::now();
            let response = self
                .local
                .http
                .put(format!(
                    "{}/rest/api/3/issue/{}",
                    self.local.jira_url(),
                    pair.jira_key
                ))
                .basic_auth(&user.email, Some(&user.api_token))
                .json(&json!({"fields": {"summary": format!("Baseline {index}"),
                                         "description": description}}))
                .send()
                .await?;
            targets.push(started.elapsed());
            if !response.status().is_success() {
                bail!(
                    "baseline Jira update failed with status {}",
                    response.status()
                );
            }

            let update = |pk: String, sk: &str, expression: &str| {
                Update::builder()
                    .table_name(DIRECT_TABLE)
                    .key("pk", s(&pk))
                    .key("sk", s(sk))
                    .update_expression(expression)
                    .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
                    .build()
                    .map(|update| TransactWriteItem::builder().update(update).build())
            };
            let items = vec![
                update(
                    format!("baseline-link#a#{index}"),
                    "widgets",
                    "SET applied_at = :one",
                )?,
                update(
                    format!("baseline-link#b#{index}"),
                    "widgets",
                    "SET applied_at = :one",
                )?,
                update(key, "delivery", "SET applied_at = :one")?,
            ];
            let started = Instant::now();
            dynamo
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await?;
            commits.push(started.elapsed());
        }
        self.local.drain().await?;
        Ok(Baseline {
            claim_put: Stats::of(&puts),
            link_get: Stats::of(&gets),
            commit_transaction: Stats::of(&commits),
            target_put: Stats::of(&targets),
        })
    }

    fn packages(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let mut packages = Vec::new();
        let functions = self.root.join("functions");
        let mut names: Vec<String> = std::fs::read_dir(&functions)?
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join("Cargo.toml").is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let zip = self.target.join("lambda").join(&name).join("bootstrap.zip");
            if let Ok(metadata) = std::fs::metadata(&zip) {
                packages.push((name, metadata.len()));
            }
        }
        Ok(packages)
    }
}

/// The AWS endpoints and table a function process uses.
pub struct Endpoints {
    table: String,
    dynamodb: String,
    secrets_manager: String,
}

impl Endpoints {
    fn direct(local: &Local, table: &str) -> Endpoints {
        Endpoints {
            table: table.to_owned(),
            dynamodb: local.moto.url.clone(),
            secrets_manager: local.moto.url.clone(),
        }
    }
}

/// Sets the environment that Lambda gives a function, pointed at the local stack. The
/// environment starts empty, so no profile, credential file or instance metadata is read.
fn lambda_environment(command: &mut Command, runtime: &RuntimeApi, endpoints: &Endpoints) {
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "proxysync-bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoints.dynamodb)
        .env(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            &endpoints.secrets_manager,
        )
        .env("PROXYSYNC_TABLE", &endpoints.table)
        // The proxy-authored edits below are made directly as the proxy user, which the
        // pipeline would count as people using the proxy account; the bench measures the skip.
        .env("PROXYSYNC_PROXY_CHECK_DELAY_MS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
}

fn spawn(binary: &Path, runtime: &RuntimeApi, endpoints: &Endpoints) -> anyhow::Result<Child> {
    let mut command = Command::new(binary);
    lambda_environment(&mut command, runtime, endpoints);
    command
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))
}

struct KillOnDrop(Child);

impl KillOnDrop {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}

struct ColdSample {
    total: Duration,
    init: Duration,
    first_invocation: Duration,
}

/// Starts a process with `spawn` under a fresh emulator that already queued `event`, and
/// times it until the response.
async fn cold_start(
    spawn: &mut impl FnMut(&RuntimeApi) -> anyhow::Result<Child>,
    event: Value,
) -> anyhow::Result<ColdSample> {
    let mut runtime = RuntimeApi::start().await?;
    let started = Instant::now();
    let mut child = KillOnDrop(spawn(&runtime)?);
    let answer = runtime.invoke(event, INVOCATION_LIMIT).await?;
    child.stop();
    expect_processed(&answer)?;
    let first_poll = runtime.first_poll().context("the function never polled")?;
    Ok(ColdSample {
        total: answer.answered_at - started,
        init: first_poll - started,
        first_invocation: answer.answered_at - answer.fetched_at,
    })
}

fn cold_summary(name: &str, samples: &[ColdSample]) -> ColdStart {
    let pick = |f: fn(&ColdSample) -> Duration| samples.iter().map(f).collect::<Vec<_>>();
    ColdStart {
        name: name.to_owned(),
        total: Stats::of(&pick(|s| s.total)),
        init: Stats::of(&pick(|s| s.init)),
        first_invocation: Stats::of(&pick(|s| s.first_invocation)),
    }
}

fn event_of(case: &FunctionCase, webhook: &Webhook) -> (Value, usize) {
    let event = api_gateway_event(case.route, case.instance, webhook);
    (event, webhook.body.len())
}

/// Returns the `outcome` of a function's API Gateway response, or describes the failure.
fn outcome_of(answer: &Answer) -> String {
    if answer.error {
        return format!("error: {}", answer.body);
    }
    let body: Value = answer.body["body"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let reason = body["events"][0]["reason"].as_str().unwrap_or_default();
    match body["outcome"].as_str() {
        Some(outcome) if reason.is_empty() => outcome.to_owned(),
        Some(outcome) => format!("{outcome} ({reason})"),
        None => format!("status {}: {}", answer.body["statusCode"], answer.body),
    }
}

fn expect_processed(answer: &Answer) -> anyhow::Result<()> {
    let outcome = outcome_of(answer);
    if outcome != "processed" {
        bail!("the function returned {outcome} instead of a synced edit");
    }
    Ok(())
}

/// Reads `VmHWM` (peak resident set size) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line in /proc/PID/status")
}
