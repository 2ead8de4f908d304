//! The scheduled replay against moto's server and the tracker sandbox.

use std::time::Duration;

use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{REPO, Stack, StackOptions};
use reqwest::Method;
use serde_json::json;

fn jira_create_fails() -> Fault {
    Fault {
        tracker: Some("jira".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/rest/api/3/issue".to_owned()),
        status: 503,
        headers: vec![],
        body: None,
        times: 1000,
        delay_ms: 0,
    }
}

async fn short_budget_stack() -> Stack {
    Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1200),
        ..StackOptions::default()
    })
    .await
}

/// Makes every parked event due now, as if its backoff had passed.
async fn make_due(stack: &Stack) {
    for mut parked in stack.store.list_parked().await.unwrap() {
        parked.next_attempt_ms = 0;
        stack.store.update_parked(&parked).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_applies_issue_events_in_order() {
    let stack = short_budget_stack().await;
    stack.sandbox.add_fault(jira_create_fails());
    let human = stack.human();
    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "First", "body": "Body"})),
        )
        .await;
    let number = created["number"].as_u64().unwrap();
    human
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{number}"),
            Some(json!({"title": "Second"})),
        )
        .await;
    // The tracker delivers the edit before the creation; both park.
    let mut webhooks = stack.sandbox.take_webhooks();
    webhooks.reverse();
    for webhook in &webhooks {
        let answer = stack.deliver(webhook).await;
        assert_eq!(answer.status, 202, "{:?}", answer.body);
    }
    assert_eq!(stack.store.list_parked().await.unwrap().len(), 2);

    // Not due yet: the scheduled run leaves both parked.
    stack.sandbox.clear_faults();
    let report = replay::handle(&stack.pipeline, None).await.unwrap();
    assert_eq!(report["waiting"], 2, "{report}");
    assert!(stack.sandbox.state().jira.issues.is_empty());

    make_due(&stack).await;
    let report = replay::handle(&stack.pipeline, None).await.unwrap();
    assert_eq!(report["replayed"], 2, "{report}");
    let state = stack.sandbox.state();
    assert_eq!(state.jira.issues.len(), 1);
    assert_eq!(state.jira.issues[0].summary, "Second");
    assert!(stack.store.list_parked().await.unwrap().is_empty());

    let again = replay::handle(&stack.pipeline, None).await.unwrap();
    assert_eq!(again["replayed"], 0, "{again}");
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_replay_backs_off_with_jitter() {
    let stack = short_budget_stack().await;
    stack.sandbox.add_fault(jira_create_fails());
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Still failing"})),
        )
        .await;
    for webhook in stack.sandbox.take_webhooks() {
        stack.deliver(&webhook).await;
    }

    let mut previous_wait = 0;
    for attempt in 1..=3u32 {
        make_due(&stack).await;
        let before = proxysync_core::time_util::now_ms();
        let report = replay::handle(&stack.pipeline, None).await.unwrap();
        assert_eq!(report["failed"], 1, "{report}");
        let parked = stack.store.list_parked().await.unwrap().remove(0);
        assert_eq!(parked.attempts, attempt);
        assert_eq!(parked.error_code.as_deref(), Some("503"));
        let wait = parked.next_attempt_ms - before;
        let base = 30_000i64 << attempt;
        assert!(
            wait >= base,
            "attempt {attempt}: waits {wait} ms, less than {base}"
        );
        assert!(
            wait <= base + base / 5 + 10_000,
            "attempt {attempt}: waits {wait} ms, more than {base} plus 20 % jitter"
        );
        assert!(
            wait > previous_wait,
            "attempt {attempt}: backoff did not grow"
        );
        previous_wait = wait;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_stops_at_deadline() {
    let stack = short_budget_stack().await;
    stack.sandbox.add_fault(jira_create_fails());
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Late"})),
        )
        .await;
    for webhook in stack.sandbox.take_webhooks() {
        stack.deliver(&webhook).await;
    }
    stack.sandbox.clear_faults();
    make_due(&stack).await;

    // A Lambda deadline one second away leaves no time for a sync budget.
    let deadline = proxysync_core::time_util::now_ms() + 1000;
    let report = replay::handle(&stack.pipeline, Some(deadline))
        .await
        .unwrap();
    assert_eq!(report["waiting"], 1, "{report}");
    assert_eq!(report["replayed"], 0, "{report}");
}
