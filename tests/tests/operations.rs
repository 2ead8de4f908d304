//! Operations guards end to end: metrics of a run, the per-issue write cap, and the project
//! scope of a connection.

use std::time::Duration;

use proxysync_core::metrics::{self, Recorder};
use proxysync_core::model::IssueRef;
use proxysync_core::secrets::Secrets;
use proxysync_core::store::{Commit, LinkWrite};
use proxysync_core::{Pipeline, Settings};
use proxysync_tests::{JIRA_PROJECT, REPO, Stack};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_metrics_count_outcomes() {
    let stack = Stack::start().await;
    let recorder = Recorder::new("test");
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Counted"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    metrics::scope(recorder.clone(), async {
        stack.deliver(&webhook).await;
        stack.deliver(&webhook).await;
        stack.pump_until_quiet(6).await;
    })
    .await;

    let documents: Vec<Value> = recorder
        .take_lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let github = documents
        .iter()
        .find(|d| d["Tracker"] == "github" && d.get("Reason").is_none())
        .expect("a github document");
    assert_eq!(github["Synced"], 1.0, "{github}");
    assert_eq!(github["Duplicates"], 1.0, "{github}");
    assert!(
        github["EventsReceived"].as_f64().unwrap() >= 2.0,
        "{github}"
    );
    assert!(github["Latency"].is_array() || github["Latency"].is_number());
    let proxy_skips = documents
        .iter()
        .filter(|d| d["Reason"] == "proxy_author")
        .filter_map(|d| d["Skipped"].as_f64())
        .sum::<f64>();
    assert!(proxy_skips >= 1.0, "{documents:#?}");
}

/// A pipeline on the stack's table whose write cap is `cap`.
async fn capped_pipeline(stack: &Stack, cap: u32) -> Pipeline {
    let settings = Settings::from_lookup(|name| match name {
        "PROXYSYNC_TABLE" => Some(stack.table.clone()),
        "PROXYSYNC_CONFIG_TTL_SECS" => Some("0".to_owned()),
        "PROXYSYNC_MAX_WRITES_PER_ISSUE_PER_MINUTE" => Some(cap.to_string()),
        _ => None,
    })
    .unwrap();
    let secrets = Secrets::aws(stack.secrets_client.clone(), Duration::from_secs(900));
    let http = proxysync_core::lambda::http_client().unwrap();
    Pipeline::new(settings, stack.store.clone(), secrets, http)
}

async fn deliver_with(
    pipeline: &Pipeline,
    webhook: &proxysync_tests::tracker_sandbox::RecordedWebhook,
) -> proxysync_core::WebhookResponse {
    let (route, instance) = match webhook.tracker.as_str() {
        "github" => ("github", "acme-github"),
        _ => ("jira", "acme-jira"),
    };
    let request = proxysync_core::tracker::InboundRequest {
        headers: webhook
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
        body: webhook.body.clone(),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    pipeline
        .handle_webhook(route, instance, &request, deadline)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_storm_is_parked() {
    // The counter is per minute: start early in a minute so the run stays inside one.
    let second = proxysync_core::time_util::now_ms() / 1000 % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs(61 - second as u64)).await;
    }
    let stack = Stack::start().await;
    let pipeline = capped_pipeline(&stack, 3).await;
    let human = stack.human();
    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Storm 0"})),
        )
        .await;
    let number = created["number"].as_u64().unwrap();
    let path = format!("/repos/{REPO}/issues/{number}");
    for step in 1..=4 {
        human
            .github(
                Method::PATCH,
                &path,
                Some(json!({"title": format!("Storm {step}")})),
            )
            .await;
    }

    let recorder = Recorder::new("test");
    let mut statuses = Vec::new();
    metrics::scope(recorder.clone(), async {
        for webhook in stack.sandbox.take_webhooks() {
            if webhook.tracker == "github" {
                statuses.push(deliver_with(&pipeline, &webhook).await.status);
            }
        }
    })
    .await;
    // The creation and two edits fit the cap of 3; the other two edits are parked.
    assert_eq!(statuses, vec![200, 200, 200, 202, 202]);
    assert_eq!(stack.sandbox.state().jira.issues[0].summary, "Storm 2");
    let parked = stack.store.list_parked().await.unwrap();
    assert_eq!(parked.len(), 2);
    for event in &parked {
        assert_eq!(event.error_code.as_deref(), Some("write_cap"));
        assert!(event.error.contains("write storm"), "{}", event.error);
    }
    let documents: Vec<Value> = recorder
        .take_lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let parked_count: f64 = documents.iter().filter_map(|d| d["Parked"].as_f64()).sum();
    assert_eq!(parked_count, 2.0);
    assert!(
        documents.iter().all(|d| d.get("TargetErrors").is_none()),
        "the cap is no target error: {documents:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_cap_zero_turns_it_off() {
    let stack = Stack::start().await;
    let pipeline = capped_pipeline(&stack, 0).await;
    let human = stack.human();
    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Free 0"})),
        )
        .await;
    let number = created["number"].as_u64().unwrap();
    for step in 1..=4 {
        human
            .github(
                Method::PATCH,
                &format!("/repos/{REPO}/issues/{number}"),
                Some(json!({"title": format!("Free {step}")})),
            )
            .await;
    }
    for webhook in stack.sandbox.take_webhooks() {
        if webhook.tracker == "github" {
            assert_eq!(deliver_with(&pipeline, &webhook).await.status, 200);
        }
    }
    assert_eq!(stack.sandbox.state().jira.issues[0].summary, "Free 4");
    assert_eq!(stack.count_items("writes#").await, 0);
}

fn proxy_writes(stack: &Stack) -> usize {
    let github_proxy = stack.sandbox_config.github.users[0].id.to_string();
    let jira_proxy = stack.sandbox_config.jira.users[0].account_id.clone();
    stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .filter(|r| {
            r.user_id.as_deref() == Some(github_proxy.as_str())
                || r.user_id.as_deref() == Some(jira_proxy.as_str())
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_projects_never_touched() {
    let stack = Stack::start().await;
    let human = stack.human();

    // The proxy users can see acme/secret-plans and HR, which no connection names.
    let private = human
        .github(
            Method::POST,
            "/repos/acme/secret-plans/issues",
            Some(json!({"title": "Private"})),
        )
        .await;
    let private_number = private["number"].as_u64().unwrap();
    human
        .github(
            Method::POST,
            &format!("/repos/acme/secret-plans/issues/{private_number}/comments"),
            Some(json!({"body": "private comment"})),
        )
        .await;
    human
        .github(
            Method::PATCH,
            &format!("/repos/acme/secret-plans/issues/{private_number}"),
            Some(json!({"title": "Private, edited"})),
        )
        .await;
    let hr = human
        .jira(
            Method::POST,
            "/rest/api/3/issue",
            Some(json!({"fields": {"project": {"key": "HR"}, "issuetype": {"name": "Task"}, "summary": "Salaries"}})),
        )
        .await;
    let hr_key = hr["key"].as_str().unwrap().to_owned();
    human
        .jira(
            Method::POST,
            &format!("/rest/api/3/issue/{hr_key}/comment"),
            Some(json!({"body": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "private"}]}
            ]}})),
        )
        .await;
    for (tracker, answer) in stack.pump().await {
        assert_eq!(answer.status, 200, "{tracker}: {:?}", answer.body);
        assert_eq!(
            answer.body["events"][0]["reason"], "not_connected",
            "{tracker}: {:?}",
            answer.body
        );
    }
    assert_eq!(proxy_writes(&stack), 0);

    // A linked issue that moved out of the connected project (Jira gives it a new key) is
    // never written, although the proxy user could.
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Linked"})),
        )
        .await;
    stack.pump_until_quiet(6).await;
    let state = stack.sandbox.state();
    let github_issue = state.github.issues.iter().find(|i| i.repo == REPO).unwrap();
    let hr_issue = state.jira.issues.iter().find(|i| i.key == hr_key).unwrap();
    let moved = IssueRef {
        key: hr_issue.key.clone(),
        id: hr_issue.id.clone(),
        url: format!("{}/browse/{}", stack.sandbox.jira_url(), hr_issue.key),
    };
    let commit = Commit {
        links: vec![LinkWrite {
            instance: "acme-github".to_owned(),
            issue_id: github_issue.node_id.clone(),
            connection: "widgets".to_owned(),
            peer_instance: "acme-jira".to_owned(),
            peer: moved,
            applied_at_ms: None,
            echo: None,
            field_echoes: Vec::new(),
            echo_until_ms: 0,
            clear_echoes: Vec::new(),
        }],
        ..Commit::default()
    };
    stack.store.commit(&commit).await.unwrap();
    let writes_before = proxy_writes(&stack);
    human
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{}", github_issue.number),
            Some(json!({"title": "Linked, edited"})),
        )
        .await;
    let answers = stack.pump().await;
    assert_eq!(
        answers[0].1.body["events"][0]["reason"], "outside_project",
        "{:?}",
        answers[0].1.body
    );
    assert_eq!(proxy_writes(&stack), writes_before);
    let hr_after = stack
        .sandbox
        .state()
        .jira
        .issues
        .into_iter()
        .find(|i| i.key == hr_key)
        .unwrap();
    assert_eq!(hr_after.summary, "Salaries");
    assert_eq!(
        stack
            .sandbox
            .state()
            .jira
            .issues
            .iter()
            .filter(|i| i.project_key == JIRA_PROJECT)
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_storm_is_parked() {
    // The counter is per minute: start early in a minute so the run stays inside one.
    let second = proxysync_core::time_util::now_ms() / 1000 % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs(61 - second as u64)).await;
    }
    let stack = Stack::start().await;
    let pipeline = capped_pipeline(&stack, 2).await;
    let human = stack.human();
    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Chatty"})),
        )
        .await;
    let number = created["number"].as_u64().unwrap();
    for step in 1..=3 {
        human
            .github(
                Method::POST,
                &format!("/repos/{REPO}/issues/{number}/comments"),
                Some(json!({"body": format!("Comment {step}")})),
            )
            .await;
    }

    let mut statuses = Vec::new();
    for webhook in stack.sandbox.take_webhooks() {
        if webhook.tracker == "github" {
            statuses.push(deliver_with(&pipeline, &webhook).await.status);
        }
    }
    // The creation and the first comment fit the cap of 2; the other two comments are parked.
    assert_eq!(statuses, vec![200, 200, 202, 202]);
    let comments = stack.sandbox.state().jira.comments;
    let copied = comments
        .iter()
        .filter(|c| c.body.to_string().contains("Comment "))
        .count();
    assert_eq!(copied, 1, "{comments:?}");
    let parked = stack.store.list_parked().await.unwrap();
    assert_eq!(parked.len(), 2);
    for event in &parked {
        assert_eq!(event.error_code.as_deref(), Some("write_cap"));
    }
}
