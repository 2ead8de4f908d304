//! Fault injection. The sandbox injects tracker errors, rate limits, timeouts and truncated
//! responses, and an instance points at a closed port. A proxy in front of moto throttles or
//! cuts off DynamoDB and Secrets Manager, a private moto server is stopped, and an invocation
//! is cut off mid-sync. After each fault clears, both trackers must contain what they would
//! contain had it never happened: every event applied exactly once, and nothing left parked.

use std::time::Duration;

use proxysync_core::WebhookResponse;
use proxysync_tests::aws_proxy::{AwsFailure, AwsProxy};
use proxysync_tests::moto::{AwsSnapshot, PrivateMoto};
use proxysync_tests::tracker_sandbox::{Fault, RecordedWebhook, Truncation};
use proxysync_tests::{JIRA_PROJECT, REPO, Stack, StackOptions, free_port, moto_endpoint};
use reqwest::Method;
use serde_json::json;

const JIRA_CREATE: &str = "/jira/rest/api/3/issue";
const GITHUB_CREATE: &str = "/github/repos/acme/widgets/issues";

/// Where an issue is first opened by a person; the pipeline creates its peer on the other side.
#[derive(Clone, Copy, Debug)]
enum Origin {
    Github,
    Jira,
}

impl Origin {
    /// Returns the sandbox tracker that receives the create, and the path of the create call.
    fn target(self) -> (&'static str, &'static str) {
        match self {
            Origin::Github => ("jira", JIRA_CREATE),
            Origin::Jira => ("github", GITHUB_CREATE),
        }
    }

    /// Opens an issue as a person and returns the webhook the tracker sends for it.
    async fn open(self, stack: &Stack, title: &str) -> RecordedWebhook {
        let human = stack.human();
        match self {
            Origin::Github => {
                let body = json!({"title": title, "body": "Steps to **reproduce**"});
                human
                    .github(Method::POST, &format!("/repos/{REPO}/issues"), Some(body))
                    .await;
            }
            Origin::Jira => {
                let fields = json!({"fields": {
                    "project": {"key": JIRA_PROJECT},
                    "issuetype": {"name": "Task"},
                    "summary": title,
                }});
                human
                    .jira(Method::POST, "/rest/api/3/issue", Some(fields))
                    .await;
            }
        }
        let mut webhooks = stack.sandbox.take_webhooks();
        assert_eq!(webhooks.len(), 1, "opening an issue sends one webhook");
        webhooks.remove(0)
    }
}

/// Returns a fault on the create call of `origin`'s target.
fn create_fault(origin: Origin, status: u16, times: u32) -> Fault {
    let (tracker, path) = origin.target();
    Fault {
        tracker: Some(tracker.to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some(path.to_owned()),
        status,
        times,
        ..Fault::default()
    }
}

/// Returns the statuses the target sent for the create calls of `origin`, in order, from the
/// `from`-th logged request on.
fn create_statuses(stack: &Stack, origin: Origin, from: usize) -> Vec<u16> {
    let (tracker, path) = origin.target();
    stack
        .sandbox
        .requests()
        .iter()
        .skip(from)
        .filter(|r| r.tracker == tracker && r.method == "POST" && r.path == path)
        .map(|r| r.status)
        .collect()
}

/// Asserts that the issue titled `title` exists once on each tracker, that no event is
/// parked, that the trackers' echoes are skipped without a loop, and that `webhook`
/// delivered again is a duplicate.
async fn assert_synced_once(stack: &Stack, title: &str, webhook: &RecordedWebhook) {
    stack.pump_until_quiet(6).await;
    let state = stack.sandbox.state();
    let on_github = state
        .github
        .issues
        .iter()
        .filter(|i| i.title == title)
        .count();
    let on_jira = state
        .jira
        .issues
        .iter()
        .filter(|i| i.summary == title)
        .count();
    assert_eq!(on_github, 1, "GitHub issues titled {title:?}");
    assert_eq!(on_jira, 1, "Jira issues titled {title:?}");
    let parked = stack.store.list_parked().await.expect("list parked events");
    assert!(parked.is_empty(), "events left parked: {parked:?}");
    let again = stack.deliver(webhook).await;
    assert_eq!(again.body["outcome"], "duplicate", "{:?}", again.body);
}

fn assert_parked(answer: &WebhookResponse, what: &str) {
    assert_eq!(answer.status, 202, "{what}: {:?}", answer.body);
    assert_eq!(
        answer.body["outcome"], "parked",
        "{what}: {:?}",
        answer.body
    );
}

async fn replay_all(stack: &Stack) -> usize {
    let report = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .expect("replay parked events");
    assert_eq!(report.failed, 0, "{report:?}");
    report.replayed
}

/// Opens a GitHub issue, syncs it to Jira and drains the echoes. Returns the issue number
/// and the Jira key.
async fn linked_pair(stack: &Stack, title: &str) -> (u64, String) {
    let webhook = Origin::Github.open(stack, title).await;
    let answer = stack.deliver(&webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    stack.pump_until_quiet(6).await;
    let state = stack.sandbox.state();
    let github = state
        .github
        .issues
        .iter()
        .find(|i| i.title == title)
        .unwrap();
    let jira = state
        .jira
        .issues
        .iter()
        .find(|i| i.summary == title)
        .unwrap();
    (github.number, jira.key.clone())
}

/// Renames GitHub issue `number` as a person and returns the webhook for it.
async fn rename(stack: &Stack, number: u64, title: &str) -> RecordedWebhook {
    stack
        .human()
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{number}"),
            Some(json!({"title": title})),
        )
        .await;
    let mut webhooks = stack.sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1, "a rename sends one webhook");
    webhooks.remove(0)
}

fn jira_summary(stack: &Stack, key: &str) -> String {
    let state = stack.sandbox.state();
    state
        .jira
        .issues
        .iter()
        .find(|i| i.key == key)
        .unwrap()
        .summary
        .clone()
}

/// Reads the stored status of a delivery claim (`in_progress`, `done`, `parked`).
async fn delivery_status(stack: &Stack, webhook: &RecordedWebhook) -> Option<String> {
    let id = webhook.header("X-GitHub-Delivery").expect("delivery id");
    let item = stack
        .dynamo
        .get_item()
        .table_name(&stack.table)
        .key("pk", string(format!("delivery#acme-github#{id}")))
        .key("sk", string("delivery".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("read the delivery claim")
        .item?;
    item.get("status")?.as_s().ok().cloned()
}

fn string(value: String) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(value)
}

/// Returns a budget that fits one retry after a server error (backoff of 0.8 to 1.2 s) but no more.
fn short_budget() -> StackOptions {
    StackOptions {
        sync_budget: Duration::from_millis(3000),
        ..StackOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_zero_retries_at_once() {
    let stack = Stack::start().await;
    for origin in [Origin::Github, Origin::Jira] {
        let title = format!("Limited from {origin:?}");
        let mut fault = create_fault(origin, 429, 3);
        fault.headers = vec![("Retry-After".to_owned(), "0".to_owned())];
        stack.sandbox.add_fault(fault);
        let webhook = origin.open(&stack, &title).await;
        let from = stack.sandbox.requests().len();

        let answer = stack.deliver(&webhook).await;
        assert_eq!(answer.status, 200, "{origin:?}: {:?}", answer.body);
        let statuses = create_statuses(&stack, origin, from);
        assert_eq!(statuses, vec![429, 429, 429, 201], "{origin:?}");
        assert_synced_once(&stack, &title, &webhook).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_retry_after_parks_then_replays() {
    huge_retry_after_cycle("999999999").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retry_after_parks_then_replays() {
    huge_retry_after_cycle("18446744073709551615").await;
}

/// Rejects the creates in both directions with 429 and `retry_after` seconds, which is past
/// any budget: the event must be parked at once and applied once on replay.
async fn huge_retry_after_cycle(retry_after: &str) {
    let stack = Stack::start_with(short_budget()).await;
    for origin in [Origin::Github, Origin::Jira] {
        let title = format!("Retry after {retry_after} from {origin:?}");
        let mut fault = create_fault(origin, 429, 1000);
        fault.headers = vec![("Retry-After".to_owned(), retry_after.to_owned())];
        stack.sandbox.add_fault(fault);
        let webhook = origin.open(&stack, &title).await;
        let from = stack.sandbox.requests().len();

        let answer = stack.deliver(&webhook).await;
        assert_parked(&answer, retry_after);
        let statuses = create_statuses(&stack, origin, from);
        assert_eq!(statuses, vec![429], "no retry past the budget");
        let redelivered = stack.deliver(&webhook).await;
        assert_eq!(
            redelivered.body["outcome"], "duplicate",
            "{:?}",
            redelivered.body
        );

        stack.sandbox.clear_faults();
        assert_eq!(replay_all(&stack).await, 1);
        assert_synced_once(&stack, &title, &webhook).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_retry_or_park() {
    let stack = Stack::start_with(short_budget()).await;
    for origin in [Origin::Github, Origin::Jira] {
        for status in [500u16, 503] {
            let title = format!("Passing {status} from {origin:?}");
            stack.sandbox.add_fault(create_fault(origin, status, 1));
            let webhook = origin.open(&stack, &title).await;
            let answer = stack.deliver(&webhook).await;
            assert_eq!(answer.status, 200, "{title}: {:?}", answer.body);
            assert_synced_once(&stack, &title, &webhook).await;

            let title = format!("Lasting {status} from {origin:?}");
            stack.sandbox.add_fault(create_fault(origin, status, 1000));
            let webhook = origin.open(&stack, &title).await;
            assert_parked(&stack.deliver(&webhook).await, &title);
            stack.sandbox.clear_faults();
            assert_eq!(replay_all(&stack).await, 1, "{title}");
            assert_synced_once(&stack, &title, &webhook).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_parks_then_replays() {
    let stack = Stack::start_with(short_budget()).await;
    for origin in [Origin::Github, Origin::Jira] {
        let title = format!("Slow target for {origin:?}");
        let mut fault = create_fault(origin, 0, 1);
        fault.delay_ms = 6000;
        stack.sandbox.add_fault(fault);
        let webhook = origin.open(&stack, &title).await;

        assert_parked(&stack.deliver(&webhook).await, &title);
        // Let the delayed request run out, so a create it still made would show below.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(replay_all(&stack).await, 1, "{title}");
        assert_synced_once(&stack, &title, &webhook).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_parks_then_replays() {
    let stack = Stack::start_with(short_budget()).await;
    let jira = stack.config.instance("acme-jira").unwrap().clone();
    let mut closed = jira.clone();
    closed.base_url = format!("http://127.0.0.1:{}/jira", free_port());
    stack.store.put_instance(&closed).await.unwrap();

    let title = "Target port closed";
    let webhook = Origin::Github.open(&stack, title).await;
    assert_parked(&stack.deliver(&webhook).await, title);
    let parked = stack.store.list_parked().await.unwrap();
    assert!(parked[0].error.contains("jira"), "{}", parked[0].error);

    stack.store.put_instance(&jira).await.unwrap();
    assert_eq!(replay_all(&stack).await, 1);
    assert_synced_once(&stack, title, &webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_read_is_retried() {
    let stack = Stack::start().await;
    let (number, key) = linked_pair(&stack, "Close me").await;
    stack.sandbox.add_truncation(Truncation {
        tracker: Some("jira".to_owned()),
        method: Some("GET".to_owned()),
        path_contains: Some("/transitions".to_owned()),
        keep_bytes: 20,
        times: 1,
    });
    stack
        .human()
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{number}"),
            Some(json!({"state": "closed"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);

    let answer = stack.deliver(&webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let state = stack.sandbox.state();
    let issue = state.jira.issues.iter().find(|i| i.key == key).unwrap();
    assert_eq!(issue.status, "Done");
    let reads = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/transitions"))
        .count();
    assert_eq!(reads, 2, "the truncated read is sent again");
    assert_synced_once(&stack, "Close me", &webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_create_creates_once() {
    truncated_create_cycle(Origin::Github).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_github_create_creates_once() {
    truncated_create_cycle(Origin::Jira).await;
}

/// Cuts short the response to the create of `origin`'s peer after the target made the issue.
/// The client does not resend a POST whose response was lost, so the event is parked, and the
/// replay must find the issue and link it instead of creating a second one.
async fn truncated_create_cycle(origin: Origin) {
    let stack = Stack::start().await;
    let (tracker, path) = origin.target();
    stack.sandbox.add_truncation(Truncation {
        tracker: Some(tracker.to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some(path.to_owned()),
        keep_bytes: 10,
        times: 1,
    });
    let title = format!("Cut short from {origin:?}");
    let webhook = origin.open(&stack, &title).await;
    let from = stack.sandbox.requests().len();

    assert_parked(&stack.deliver(&webhook).await, &title);
    assert_eq!(replay_all(&stack).await, 1, "{title}");
    let statuses = create_statuses(&stack, origin, from);
    assert_eq!(
        statuses,
        vec![201],
        "{title}: only the cut-short create is sent"
    );
    assert_eq!(
        lookups(&stack, origin, from),
        1,
        "{title}: the replay looks up"
    );
    assert_synced_once(&stack, &title, &webhook).await;
    assert_cross_linked(&stack, &title);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_create_replay_creates_once() {
    let stack = Stack::start_with(short_budget()).await;
    for origin in [Origin::Github, Origin::Jira] {
        let title = format!("Never created from {origin:?}");
        stack.sandbox.add_fault(create_fault(origin, 500, 1000));
        let webhook = origin.open(&stack, &title).await;
        let from = stack.sandbox.requests().len();

        assert_parked(&stack.deliver(&webhook).await, &title);
        stack.sandbox.clear_faults();
        assert_eq!(replay_all(&stack).await, 1, "{title}");
        let created = create_statuses(&stack, origin, from)
            .into_iter()
            .filter(|status| *status == 201)
            .count();
        assert_eq!(created, 1, "{title}: the replay creates the issue");
        assert_eq!(
            lookups(&stack, origin, from),
            1,
            "{title}: the replay looks up"
        );
        assert_synced_once(&stack, &title, &webhook).await;
        assert_cross_linked(&stack, &title);
    }
}

/// Returns how many searches for an earlier create the target of `origin` received, from the
/// `from`-th logged request on.
fn lookups(stack: &Stack, origin: Origin, from: usize) -> usize {
    let (tracker, _) = origin.target();
    stack
        .sandbox
        .requests()
        .iter()
        .skip(from)
        .filter(|r| r.tracker == tracker)
        .filter(|r| match origin {
            Origin::Github => r.method == "POST" && r.path == "/jira/rest/api/3/search/jql",
            Origin::Jira => {
                r.method == "GET" && r.path.starts_with(&format!("{GITHUB_CREATE}?creator="))
            }
        })
        .count()
}

/// Asserts that the Jira and GitHub issues titled `title` name each other: a remote link on
/// the Jira issue, and a link comment on the GitHub issue.
fn assert_cross_linked(stack: &Stack, title: &str) {
    let state = stack.sandbox.state();
    let github = state
        .github
        .issues
        .iter()
        .find(|i| i.title == title)
        .unwrap();
    let jira = state
        .jira
        .issues
        .iter()
        .find(|i| i.summary == title)
        .unwrap();
    let remote_links = state
        .jira
        .remote_links
        .iter()
        .filter(|link| link.issue_id == jira.id)
        .count();
    assert_eq!(remote_links, 1, "{title}: remote links on {}", jira.key);
    let link_comments = state
        .github
        .comments
        .iter()
        .filter(|c| c.issue_number == github.number && c.body.contains(&jira.key))
        .count();
    assert_eq!(
        link_comments, 1,
        "{title}: link comments on #{}",
        github.number
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_unreachable_then_back() {
    let stack = Stack::start().await;
    let moto = moto_endpoint().await;
    let mut dynamo = AwsProxy::start(&moto).await;
    let pipeline = stack.pipeline_with(&dynamo.endpoint(), &moto, &[]).await;
    let (number, key) = linked_pair(&stack, "Before the outage").await;
    let webhook = rename(&stack, number, "During the outage").await;

    dynamo.go_down().await;
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.body["error"], "unavailable");
    assert_eq!(jira_summary(&stack, &key), "Before the outage");
    assert_eq!(
        delivery_status(&stack, &webhook).await,
        None,
        "no claim was stored"
    );

    dynamo.come_up().await;
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(jira_summary(&stack, &key), "During the outage");
    assert_synced_once(&stack, "During the outage", &webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_lost_mid_sync_redelivery_after_lease() {
    let stack = Stack::start().await;
    let moto = moto_endpoint().await;
    let dynamo = AwsProxy::start(&moto).await;
    // The failed commit and release take a few seconds of SDK retries, so the lease is longer.
    let lease = [("PROXYSYNC_CLAIM_LEASE_MS", "8000")];
    let pipeline = stack.pipeline_with(&dynamo.endpoint(), &moto, &lease).await;
    let (number, key) = linked_pair(&stack, "v1").await;

    // Count the DynamoDB calls of one synced rename, to fail the last one (the commit).
    let webhook = rename(&stack, number, "v2").await;
    dynamo.take_calls();
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let calls = u32::try_from(dynamo.take_calls().len()).unwrap();
    stack.pump_until_quiet(6).await;

    let webhook = rename(&stack, number, "v3").await;
    dynamo.inject(calls - 1, AwsFailure::ServerError, 100);
    let claimed_at = tokio::time::Instant::now();
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(
        jira_summary(&stack, &key),
        "v3",
        "the target write happened"
    );
    dynamo.heal();
    assert_eq!(
        delivery_status(&stack, &webhook).await.as_deref(),
        Some("in_progress")
    );
    let early = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(early.body["outcome"], "duplicate", "{:?}", early.body);

    tokio::time::sleep_until(claimed_at + Duration::from_millis(8200)).await;
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["outcome"], "processed", "{:?}", answer.body);
    assert_eq!(
        delivery_status(&stack, &webhook).await.as_deref(),
        Some("done")
    );
    assert_eq!(jira_summary(&stack, &key), "v3");
    assert_synced_once(&stack, "v3", &webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_unreachable_then_back() {
    let stack = Stack::start().await;
    let moto = moto_endpoint().await;
    let mut secrets = AwsProxy::start(&moto).await;
    let pipeline = stack.pipeline_with(&moto, &secrets.endpoint(), &[]).await;
    let title = "Secrets away";
    let webhook = Origin::Github.open(&stack, title).await;

    secrets.go_down().await;
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(delivery_status(&stack, &webhook).await, None);
    assert!(stack.sandbox.state().jira.issues.is_empty());

    secrets.come_up().await;
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_synced_once(&stack, title, &webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_throttling_retried_or_503() {
    let stack = Stack::start().await;
    let moto = moto_endpoint().await;
    for service in ["dynamodb", "secretsmanager"] {
        let proxy = AwsProxy::start(&moto).await;
        let pipeline = match service {
            "dynamodb" => stack.pipeline_with(&proxy.endpoint(), &moto, &[]).await,
            _ => stack.pipeline_with(&moto, &proxy.endpoint(), &[]).await,
        };

        let title = format!("{service} throttled twice");
        let webhook = Origin::Github.open(&stack, &title).await;
        proxy.inject(0, AwsFailure::Throttle, 2);
        let answer = stack.deliver_to(&pipeline, &webhook).await;
        assert_eq!(answer.status, 200, "{title}: {:?}", answer.body);
        let throttled = proxy.calls().iter().filter(|c| c.injected).count();
        assert_eq!(throttled, 2, "{title}");
        assert_synced_once(&stack, &title, &webhook).await;

        // A fresh pipeline has an empty secret cache, so Secrets Manager is called again.
        let pipeline = match service {
            "dynamodb" => stack.pipeline_with(&proxy.endpoint(), &moto, &[]).await,
            _ => stack.pipeline_with(&moto, &proxy.endpoint(), &[]).await,
        };
        let title = format!("{service} throttled for good");
        let webhook = Origin::Github.open(&stack, &title).await;
        proxy.inject(0, AwsFailure::Throttle, 1000);
        let answer = stack.deliver_to(&pipeline, &webhook).await;
        assert_eq!(answer.status, 503, "{title}: {:?}", answer.body);
        assert_eq!(delivery_status(&stack, &webhook).await, None, "{title}");
        proxy.heal();
        let answer = stack.deliver_to(&pipeline, &webhook).await;
        assert_eq!(answer.status, 200, "{title}: {:?}", answer.body);
        assert_synced_once(&stack, &title, &webhook).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_stopped_mid_run_then_restored() {
    let mut moto = PrivateMoto::start().await;
    let stack = Stack::start_with(StackOptions {
        moto_endpoint: Some(moto.endpoint()),
        ..StackOptions::default()
    })
    .await;
    let (number, key) = linked_pair(&stack, "Before the crash").await;
    let webhook = rename(&stack, number, "After the crash").await;
    let snapshot = AwsSnapshot::take(&stack.dynamo, &stack.secrets_client, &stack.table).await;

    moto.kill();
    let answer = stack.deliver(&webhook).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(jira_summary(&stack, &key), "Before the crash");

    moto.restart().await;
    snapshot
        .restore(&stack.dynamo, &stack.secrets_client, &stack.table)
        .await;
    let answer = stack.deliver(&webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(jira_summary(&stack, &key), "After the crash");
    assert_synced_once(&stack, "After the crash", &webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_mid_sync_claim_expires() {
    let stack = Stack::start().await;
    let moto = moto_endpoint().await;
    let lease = [("PROXYSYNC_CLAIM_LEASE_MS", "1000")];
    let pipeline = stack.pipeline_with(&moto, &moto, &lease).await;
    let (number, key) = linked_pair(&stack, "Before the deadline").await;
    let webhook = rename(&stack, number, "After the deadline").await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        method: Some("PUT".to_owned()),
        path_contains: Some(format!("/issue/{key}")),
        status: 0,
        delay_ms: 3000,
        times: 1,
        ..Fault::default()
    });

    // Lambda stops an invocation at its deadline: the future is dropped mid-sync.
    let cut = tokio::time::timeout(
        Duration::from_millis(500),
        stack.deliver_to(&pipeline, &webhook),
    )
    .await;
    assert!(cut.is_err(), "the invocation finished before its deadline");
    assert_eq!(
        delivery_status(&stack, &webhook).await.as_deref(),
        Some("in_progress")
    );
    let early = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(early.body["outcome"], "duplicate", "{:?}", early.body);
    assert_eq!(early.body["status"], "in_progress", "{:?}", early.body);

    tokio::time::sleep(Duration::from_millis(3000)).await;
    let answer = stack.deliver_to(&pipeline, &webhook).await;
    assert_eq!(answer.body["outcome"], "processed", "{:?}", answer.body);
    assert_eq!(
        delivery_status(&stack, &webhook).await.as_deref(),
        Some("done")
    );
    assert_eq!(jira_summary(&stack, &key), "After the deadline");
    assert_synced_once(&stack, "After the deadline", &webhook).await;
}
