//! The scheduled catch-up against moto's server and the tracker sandbox.

use std::sync::Arc;

use proxysync_core::metrics::{self, Recorder};
use proxysync_tests::{JIRA_PROJECT, REPO, Stack};
use reqwest::Method;
use serde_json::{Value, json};

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
