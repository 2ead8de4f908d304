//! The scheduled catch-up against moto's server and the tracker sandbox.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use proxysync_core::catch_up::{self as core_catch_up, Budget, CatchUpReport};
use proxysync_core::metrics::{self, Recorder};
use proxysync_core::model::TrackerKind;
use proxysync_core::store::{DeliveryBacklog, HookCatchUp};
use proxysync_core::time_util::now_ms;
use proxysync_tests::peers::{call, endpoint};
use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{JIRA_PROJECT, REPO, Stack};
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// The GitHub repository and Jira Data Center project of the Data Center connection.
const DC_REPO: &str = "acme/secret-plans";
const DC_PROJECT: &str = "OPS";
/// The user key of the sandbox's Jira Data Center proxy user.
const DC_PROXY_KEY: &str = "JIRAUSER10100";

/// Names the sandbox repository hook in the GitHub instance's options.
async fn enable_hook(stack: &Stack) {
    let mut instance = stack.config.instances[0].clone();
    let stored = stack.store.load_config().await.unwrap();
    instance.proxy = stored.instance(&instance.id).unwrap().proxy.clone();
    instance
        .options
        .insert("hook_id".to_owned(), json!(100_000_001));
    stack.store.put_instance(&instance).await.unwrap();
}

async fn catch_up(stack: &Stack, recorder: &Arc<Recorder>) -> Value {
    metrics::scope(recorder.clone(), catch_up::handle(&stack.pipeline, None))
        .await
        .unwrap()
}

fn found_metric(recorder: &Recorder, tracker: &str) -> f64 {
    recorder
        .take_lines()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|doc| doc["Tracker"] == tracker)
        .filter_map(|doc| doc["CatchUpFound"].as_f64())
        .sum()
}

fn proxy_writes(stack: &Stack, tracker: &str) -> usize {
    let proxy = match tracker {
        "github" => stack.sandbox_config.github.users[0].id.to_string(),
        _ => stack.sandbox_config.jira.users[0].account_id.clone(),
    };
    stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.tracker == tracker && r.method != "GET")
        .filter(|r| r.user_id.as_deref() == Some(proxy.as_str()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_failed_delivery_is_redelivered() {
    let stack = Stack::start().await;
    enable_hook(&stack).await;
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Lost on the way"})),
        )
        .await;
    // GitHub gave up on the delivery: the function never saw it.
    let lost = stack.sandbox.take_webhooks().remove(0);
    let guid = lost.header("X-GitHub-Delivery").unwrap().to_owned();
    assert!(stack.sandbox.set_github_delivery_status(&guid, 502));

    let recorder = Recorder::new("test");
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["redelivered"], 1, "{report}");
    assert_eq!(found_metric(&recorder, "github"), 1.0);
    let redelivered = stack.sandbox.take_webhooks();
    assert_eq!(redelivered.len(), 1);
    assert_eq!(
        redelivered[0].header("X-GitHub-Delivery"),
        Some(guid.as_str())
    );
    let answer = stack.deliver(&redelivered[0]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
    stack.pump_until_quiet(6).await;

    let again = catch_up(&stack, &recorder).await;
    assert_eq!(again["redelivered"], 0, "{again}");
    assert!(stack.sandbox.take_webhooks().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_delivery_is_not_redelivered() {
    let stack = Stack::start().await;
    enable_hook(&stack).await;
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Slow answer"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    stack.deliver(&webhook).await;
    // GitHub timed out waiting, although the function stored the delivery.
    let guid = webhook.header("X-GitHub-Delivery").unwrap();
    stack.sandbox.set_github_delivery_status(guid, 504);

    let recorder = Recorder::new("test");
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["redelivered"], 0, "{report}");
    assert_eq!(found_metric(&recorder, "github"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_missed_changes_are_synced() {
    let stack = Stack::start().await;
    let human = stack.human();
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Synced once"})),
        )
        .await;
    stack.pump_until_quiet(6).await;
    let key = stack.sandbox.state().jira.issues[0].key.clone();

    // A first run finds only the proxy user's own issue, and writes nothing back.
    let recorder = Recorder::new("test");
    let github_writes = proxy_writes(&stack, "github");
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["synced"], 0, "{report}");
    assert_eq!(proxy_writes(&stack, "github"), github_writes);

    // Jira's webhooks for an edit and a new issue never arrive.
    human
        .jira(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            Some(json!({"fields": {"summary": "Edited on Jira"}})),
        )
        .await;
    human
        .jira(
            Method::POST,
            "/rest/api/3/issue",
            Some(json!({"fields": {
                "project": {"key": JIRA_PROJECT},
                "issuetype": {"name": "Task"},
                "summary": "Never delivered",
            }})),
        )
        .await;
    stack.sandbox.take_webhooks();

    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["synced"], 2, "{report}");
    assert_eq!(found_metric(&recorder, "jira"), 2.0);
    let titles: Vec<String> = stack
        .sandbox
        .state()
        .github
        .issues
        .iter()
        .map(|issue| issue.title.clone())
        .collect();
    assert!(titles.contains(&"Edited on Jira".to_owned()), "{titles:?}");
    assert!(titles.contains(&"Never delivered".to_owned()), "{titles:?}");

    // The proxy user's writes come back as webhooks and are dropped; a new run finds nothing.
    stack.pump_until_quiet(6).await;
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["synced"], 0, "{report}");
    assert_eq!(stack.sandbox.state().github.issues.len(), 2);
}

/// Runs a catch-up within `budget`, as the function does with the default budget.
async fn catch_up_within(stack: &Stack, recorder: &Arc<Recorder>, budget: Budget) -> CatchUpReport {
    let stop_at = Instant::now() + Duration::from_secs(120);
    metrics::scope(
        recorder.clone(),
        core_catch_up::run_with(&stack.pipeline, stop_at, budget),
    )
    .await
    .unwrap()
}

/// Opens `count` issues as the human and records each webhook delivery as failed, as when the
/// receiver was down. Returns the delivery guids, oldest first.
async fn lose_deliveries(stack: &Stack, count: usize) -> Vec<String> {
    let human = stack.human();
    for number in 0..count {
        human
            .github(
                Method::POST,
                &format!("/repos/{REPO}/issues"),
                Some(json!({"title": format!("Lost on the way {number}")})),
            )
            .await;
    }
    let guids = delivery_guids(stack);
    assert_eq!(guids.len(), count);
    for guid in &guids {
        assert!(stack.sandbox.set_github_delivery_status(guid, 502));
    }
    guids
}

/// Drains the recorded webhooks and returns their `X-GitHub-Delivery` values.
fn delivery_guids(stack: &Stack) -> Vec<String> {
    stack
        .sandbox
        .take_webhooks()
        .iter()
        .filter_map(|webhook| webhook.header("X-GitHub-Delivery").map(str::to_owned))
        .collect()
}

/// Records a 200 status for the newest attempt of each delivery, as after a redelivery that
/// reached the function.
fn answer_ok(stack: &Stack, guids: &[String]) {
    for guid in guids {
        assert!(stack.sandbox.set_github_delivery_status(guid, 200));
    }
}

fn as_set(guids: &[String]) -> BTreeSet<String> {
    guids.iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_across_pages_redelivered_once() {
    let stack = Stack::start().await;
    enable_hook(&stack).await;
    let lost = lose_deliveries(&stack, 150).await;

    let recorder = Recorder::new("test");
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["redelivered"], 150, "{report}");
    assert_eq!(report["budget_exhausted"], json!([]), "{report}");
    assert_eq!(found_metric(&recorder, "github"), 150.0);
    let redelivered = delivery_guids(&stack);
    assert_eq!(redelivered.len(), 150);
    assert_eq!(as_set(&redelivered), as_set(&lost));

    // The second page was read with the cursor of the first page's Link header.
    let pages: Vec<String> = stack
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/deliveries"))
        .map(|r| r.path)
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(!pages[0].contains("cursor="), "{pages:?}");
    assert!(pages[1].contains("cursor=v1_"), "{pages:?}");

    answer_ok(&stack, &lost);
    let again = catch_up(&stack, &recorder).await;
    assert_eq!(again["redelivered"], 0, "{again}");
    assert!(stack.sandbox.take_webhooks().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_cut_leaves_rest_for_next_run() {
    let stack = Stack::start().await;
    enable_hook(&stack).await;
    let lost = lose_deliveries(&stack, 150).await;
    let one_page = Budget {
        max_pages: 1,
        ..Budget::default()
    };
    let recorder = Recorder::new("test");

    // The newest page of 100 is read and redelivered; the budget stops the run there.
    let first = catch_up_within(&stack, &recorder, one_page).await;
    assert_eq!(first.redelivered, 100, "{first:?}");
    assert_eq!(first.budget_exhausted, vec!["acme-github".to_owned()]);
    let first_guids = delivery_guids(&stack);
    assert_eq!(as_set(&first_guids), as_set(&lost[50..]));
    answer_ok(&stack, &first_guids);

    // The next run starts where the first stopped and redelivers the 50 older ones.
    let second = catch_up_within(&stack, &recorder, one_page).await;
    assert_eq!(second.redelivered, 50, "{second:?}");
    let second_guids = delivery_guids(&stack);
    assert_eq!(as_set(&second_guids), as_set(&lost[..50]));
    answer_ok(&stack, &second_guids);
    assert_eq!(found_metric(&recorder, "github"), 150.0);

    // With a full budget nothing is left over and nothing is asked for twice.
    let third = catch_up_within(&stack, &recorder, Budget::default()).await;
    assert_eq!(third.redelivered, 0, "{third:?}");
    assert!(third.budget_exhausted.is_empty(), "{third:?}");
    assert!(stack.sandbox.take_webhooks().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_budget_cut_leaves_rest() {
    let stack = Stack::start().await;
    enable_hook(&stack).await;
    let lost = lose_deliveries(&stack, 150).await;
    // Each page takes 2.5 s, so after the first page less than the listing reserve is left.
    stack.sandbox.add_fault(Fault {
        tracker: Some("github".to_owned()),
        method: Some("GET".to_owned()),
        path_contains: Some("/deliveries".to_owned()),
        status: 0,
        delay_ms: 2500,
        times: 100,
        ..Fault::default()
    });
    let short = Budget {
        instance_time: core_catch_up::LIST_RESERVE + Duration::from_secs(2),
        ..Budget::default()
    };
    let recorder = Recorder::new("test");

    let first = catch_up_within(&stack, &recorder, short).await;
    assert_eq!(first.budget_exhausted, vec!["acme-github".to_owned()]);
    assert!(first.redelivered >= 1, "{first:?}");
    assert!(first.redelivered <= 100, "{first:?}");
    let first_guids = delivery_guids(&stack);
    assert_eq!(first_guids.len(), first.redelivered);
    assert!(as_set(&lost[50..]).is_superset(&as_set(&first_guids)));
    answer_ok(&stack, &first_guids);

    // Without the delay the next run redelivers the rest, and none of the first run's again.
    stack.sandbox.clear_faults();
    let second = catch_up(&stack, &recorder).await;
    assert_eq!(second["budget_exhausted"], json!([]), "{second}");
    let second_guids = delivery_guids(&stack);
    assert_eq!(second_guids.len(), 150 - first_guids.len());
    assert!(as_set(&first_guids).is_disjoint(&as_set(&second_guids)));
    let mut all = as_set(&first_guids);
    all.extend(second_guids);
    assert_eq!(all, as_set(&lost));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_cursor_reads_from_newest() {
    let stack = Stack::start().await;
    enable_hook(&stack).await;
    let lost = lose_deliveries(&stack, 3).await;
    let state = HookCatchUp {
        at_ms: now_ms(),
        backlog: Some(DeliveryBacklog {
            cursor: Some("v1_expired".to_owned()),
            since_ms: now_ms() - 3_600_000,
        }),
    };
    let hook = format!("{REPO}#100000001");
    stack
        .store
        .set_hook_catch_up("acme-github", &hook, &state)
        .await
        .unwrap();

    let recorder = Recorder::new("test");
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["failures"], json!([]), "{report}");
    assert_eq!(report["redelivered"], 3, "{report}");
    assert_eq!(as_set(&delivery_guids(&stack)), as_set(&lost));
    let stored = stack
        .store
        .hook_catch_up("acme-github", &hook)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.backlog, None);
}

/// Registers the sandbox's Jira Data Center as an instance connected to `DC_REPO`.
async fn add_jira_dc(stack: &Stack) {
    let config = stack.sandbox_config.jira_dc.clone();
    let proxy = &config.users[0];
    assert_eq!(proxy.key, DC_PROXY_KEY);
    stack
        .add_instance(
            "acme-jira-dc",
            TrackerKind::JiraDc,
            stack.sandbox.jira_dc_url(),
            json!({"token": proxy.token, "webhook_secret": config.webhook_secret}),
            Map::new(),
        )
        .await;
    stack
        .add_connection(
            "plans",
            endpoint("acme-github", DC_REPO),
            endpoint("acme-jira-dc", DC_PROJECT),
        )
        .await;
}

/// Calls the Jira Data Center sandbox as the human user.
async fn as_bob(stack: &Stack, method: Method, path: &str, body: Value) {
    let bob = &stack.sandbox_config.jira_dc.users[1];
    let request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.sandbox.jira_dc_url()))
        .basic_auth(&bob.name, Some(&bob.password));
    let (status, answer) = call(request, Some(body)).await;
    assert!(
        status.is_success(),
        "Jira DC sandbox answered {status}: {answer}"
    );
}

/// The method and path of each write of the proxy user on `tracker` since the sandbox started.
fn proxy_write_paths(stack: &Stack, tracker: &str) -> Vec<String> {
    let proxy = match tracker {
        "github" => stack.sandbox_config.github.users[0].id.to_string(),
        _ => DC_PROXY_KEY.to_owned(),
    };
    stack
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.tracker == tracker && r.method != "GET")
        .filter(|r| r.user_id.as_deref() == Some(proxy.as_str()))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_dc_lost_change_is_synced() {
    let stack = Stack::start().await;
    add_jira_dc(&stack).await;
    // The proxy user's clock is behind UTC, so a search date written in UTC instead of the
    // user's time zone would lie hours in Jira's future and find nothing.
    stack
        .sandbox
        .set_jira_dc_time_zone(DC_PROXY_KEY, "America/Los_Angeles");
    for title in ["Edited while its webhook was lost", "Left alone"] {
        stack
            .human()
            .github(
                Method::POST,
                &format!("/repos/{DC_REPO}/issues"),
                Some(json!({"title": title})),
            )
            .await;
    }
    stack.pump_any_until_quiet(6).await;
    let issues = stack.sandbox.jira_dc_state().issues;
    assert_eq!(issues.len(), 2);
    let edited = issues
        .iter()
        .find(|issue| issue.summary == "Edited while its webhook was lost")
        .unwrap()
        .key
        .clone();

    // A first run finds only the proxy user's own issues and writes nothing.
    let recorder = Recorder::new("test");
    let github_writes = proxy_write_paths(&stack, "github");
    let dc_writes = proxy_write_paths(&stack, "jira-dc");
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["synced"], 0, "{report}");
    assert_eq!(report["in_sync"], 2, "{report}");
    assert_eq!(proxy_write_paths(&stack, "github"), github_writes);

    // Jira Data Center's webhook for an edit never arrives.
    as_bob(
        &stack,
        Method::PUT,
        &format!("/rest/api/2/issue/{edited}"),
        json!({"fields": {"summary": "Renamed on Data Center", "description": "Now with *wiki* markup."}}),
    )
    .await;
    assert_eq!(stack.sandbox.take_webhooks().len(), 1);

    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["synced"], 1, "{report}");
    assert_eq!(report["in_sync"], 1, "{report}");
    assert!(
        report["failures"].as_array().unwrap().is_empty(),
        "{report}"
    );
    // Data Center counts under its webhook route, as its webhooks do.
    assert_eq!(found_metric(&recorder, "jira"), 1.0);
    let github = stack.sandbox.state().github;
    let renamed = github
        .issues
        .iter()
        .find(|issue| issue.repo == DC_REPO && issue.title == "Renamed on Data Center")
        .expect("the edit reached GitHub");
    assert_eq!(renamed.body.as_deref(), Some("Now with **wiki** markup."));
    let new_github_writes: Vec<String> = proxy_write_paths(&stack, "github")
        .into_iter()
        .skip(github_writes.len())
        .collect();
    let renamed_path = format!("/github/repos/{DC_REPO}/issues/{}", renamed.number);
    assert!(!new_github_writes.is_empty());
    assert!(
        new_github_writes.iter().all(|w| w.contains(&renamed_path)),
        "the unchanged issue was written: {new_github_writes:?}"
    );
    assert_eq!(proxy_write_paths(&stack, "jira-dc"), dc_writes);
    let searches: Vec<String> = stack
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.tracker == "jira-dc" && r.path.contains("/rest/api/2/search"))
        .map(|r| r.path)
        .collect();
    assert!(
        searches
            .iter()
            .all(|path| path.contains("updated%20%3E%3D%20%22")),
        "the search names no absolute date: {searches:?}"
    );

    // The proxy user's write on GitHub comes back as a webhook and is dropped; a new run
    // finds nothing.
    stack.pump_any_until_quiet(6).await;
    let report = catch_up(&stack, &recorder).await;
    assert_eq!(report["synced"], 0, "{report}");
    assert_eq!(found_metric(&recorder, "jira"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_missing_browse_permission() {
    let stack = Stack::start().await;
    add_jira_dc(&stack).await;
    let name = format!("permission BROWSE_PROJECTS for catch-up in project {DC_PROJECT}");
    let find = |reports: &[proxysync_core::doctor::InstanceReport]| {
        reports
            .iter()
            .find(|report| report.instance == "acme-jira-dc")
            .and_then(|report| report.checks.iter().find(|check| check.name == name))
            .cloned()
            .unwrap_or_else(|| panic!("no check {name:?}: {reports:#?}"))
    };

    let reports = proxysync_core::doctor::run(&stack.pipeline).await.unwrap();
    let granted = find(&reports);
    assert!(granted.ok, "{granted:?}");

    stack
        .sandbox
        .deny_jira_dc_permission(DC_PROXY_KEY, "BROWSE_PROJECTS");
    let reports = proxysync_core::doctor::run(&stack.pipeline).await.unwrap();
    let missing = find(&reports);
    assert!(!missing.ok, "{missing:?}");
    assert!(
        missing.detail.contains("BROWSE_PROJECTS"),
        "{}",
        missing.detail
    );
    assert!(
        missing.detail.contains("Browse Projects"),
        "{}",
        missing.detail
    );
    assert!(
        missing.detail.contains("permission scheme"),
        "{}",
        missing.detail
    );

    // Without it the catch-up's search of that instance fails, and names the project.
    let recorder = Recorder::new("test");
    let report = catch_up(&stack, &recorder).await;
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report}");
    let failure = failures[0].as_str().unwrap();
    assert!(failure.starts_with("acme-jira-dc:"), "{failure}");
    assert!(failure.contains(DC_PROJECT), "{failure}");
}
