//! End-to-end sync between the GitHub and Jira sandboxes through the real
//! pipeline, DynamoDB and Secrets Manager (moto's server).

use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{JIRA_PROJECT, REPO, Stack, StackOptions};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn outcomes(answers: &[(String, proxysync_core::WebhookResponse)]) -> Vec<String> {
    answers
        .iter()
        .flat_map(|(tracker, answer)| {
            let events = answer.body["events"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if events.is_empty() {
                return vec![format!(
                    "{tracker}:{}",
                    answer.body["outcome"].as_str().unwrap_or("?")
                )];
            }
            events
                .iter()
                .map(|event| {
                    let detail = event["action"]
                        .as_str()
                        .or(event["reason"].as_str())
                        .unwrap_or("");
                    format!(
                        "{tracker}:{}:{detail}",
                        event["decision"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .collect()
}

async fn open_github_issue(stack: &Stack, title: &str, body: &str, labels: &[&str]) -> u64 {
    let created = stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": title, "body": body, "labels": labels})),
        )
        .await;
    created["number"].as_u64().expect("issue number")
}

async fn open_jira_issue(stack: &Stack, summary: &str) -> String {
    let created = stack
        .human()
        .jira(
            Method::POST,
            "/rest/api/3/issue",
            Some(json!({"fields": {
                "project": {"key": JIRA_PROJECT},
                "issuetype": {"name": "Task"},
                "summary": summary,
                "description": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Steps in "}, {"type": "text", "text": "bold", "marks": [{"type": "strong"}]}]}
                ]},
                "labels": ["customer"],
            }})),
        )
        .await;
    created["key"].as_str().expect("issue key").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_issue_creates_jira_issue() {
    let stack = Stack::start().await;
    open_github_issue(
        &stack,
        "Crash on save",
        "It **crashes** when I save.\n\n- step one\n- step two",
        &["bug"],
    )
    .await;

    let answers = stack.pump_until_quiet(6).await;
    let outcomes = outcomes(&answers);
    assert!(
        outcomes.contains(&"github:synced:created".to_owned()),
        "{outcomes:?}"
    );

    let state = stack.sandbox.state();
    assert_eq!(state.jira.issues.len(), 1);
    let issue = &state.jira.issues[0];
    assert_eq!(issue.summary, "Crash on save");
    assert_eq!(issue.project_key, JIRA_PROJECT);
    assert_eq!(issue.labels, vec!["bug"]);
    assert_eq!(
        issue.creator_account_id,
        stack.sandbox_config.jira.users[0].account_id
    );
    let description = issue.description.clone().unwrap_or(Value::Null).to_string();
    assert!(description.contains("\"strong\""), "{description}");
    assert!(description.contains("bulletList"), "{description}");
    assert_eq!(state.jira.remote_links.len(), 1);
    assert!(
        state.jira.remote_links[0].url.contains("/issues/1"),
        "{:?}",
        state.jira.remote_links
    );
    let link_comment = state
        .github
        .comments
        .iter()
        .find(|c| c.body.contains(&issue.key));
    assert!(
        link_comment.is_some(),
        "GitHub has no comment linking {}",
        issue.key
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_issue_creates_github_issue() {
    let stack = Stack::start().await;
    let key = open_jira_issue(&stack, "Printer offline").await;

    let answers = stack.pump_until_quiet(6).await;
    let outcomes = outcomes(&answers);
    assert!(
        outcomes.contains(&"jira:synced:created".to_owned()),
        "{outcomes:?}"
    );

    let state = stack.sandbox.state();
    assert_eq!(state.github.issues.len(), 1);
    let issue = &state.github.issues[0];
    assert_eq!(issue.title, "Printer offline");
    assert_eq!(issue.repo, REPO);
    assert_eq!(issue.author_id, stack.sandbox_config.github.users[0].id);
    assert_eq!(issue.body.as_deref(), Some("Steps in **bold**"));
    assert_eq!(issue.labels, vec!["customer"]);
    assert!(
        state
            .jira
            .remote_links
            .iter()
            .any(|link| link.url.contains("/issues/")),
        "no remote link on {key}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_loop_across_edits_and_comments() {
    let stack = Stack::start().await;
    let human = stack.human();
    let number = open_github_issue(&stack, "First title", "Body", &[]).await;
    stack.pump_until_quiet(6).await;
    let key = stack.sandbox.state().jira.issues[0].key.clone();

    let issue_path = format!("/repos/{REPO}/issues/{number}");
    human
        .github(
            Method::PATCH,
            &issue_path,
            Some(json!({"title": "Second title"})),
        )
        .await;
    human
        .github(
            Method::POST,
            &format!("{issue_path}/comments"),
            Some(json!({"body": "From GitHub"})),
        )
        .await;
    stack.pump_until_quiet(6).await;

    let jira_comment = json!({"body": {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "From Jira"}]}
    ]}});
    human
        .jira(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/comment"),
            Some(jira_comment),
        )
        .await;
    human
        .jira(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            Some(json!({"fields": {"summary": "Third title"}})),
        )
        .await;
    human
        .jira(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/transitions"),
            Some(json!({"transition": {"id": "31"}})),
        )
        .await;
    stack.pump_until_quiet(6).await;

    let state = stack.sandbox.state();
    let github = &state.github.issues[0];
    let jira = &state.jira.issues[0];
    assert_eq!(github.title, "Third title");
    assert_eq!(jira.summary, "Third title");
    assert_eq!(github.state, "closed");
    assert_eq!(jira.status, "Done");
    let github_bodies: Vec<&str> = state
        .github
        .comments
        .iter()
        .map(|c| c.body.as_str())
        .collect();
    assert!(
        github_bodies
            .iter()
            .any(|b| b.contains("From Jira") && b.contains("Alice Example")),
        "{github_bodies:?}"
    );
    let jira_bodies: Vec<String> = state
        .jira
        .comments
        .iter()
        .map(|c| c.body.to_string())
        .collect();
    assert!(
        jira_bodies
            .iter()
            .any(|b| b.contains("From GitHub") && b.contains("alice-dev")),
        "{jira_bodies:?}"
    );
    // One link comment and one synced comment on GitHub: nothing echoed back.
    assert_eq!(state.github.comments.len(), 3, "{github_bodies:?}");
    assert_eq!(state.jira.comments.len(), 2, "{jira_bodies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_change_writes_nothing() {
    let stack = Stack::start().await;
    open_github_issue(&stack, "Synced", "Body", &[]).await;
    let first = stack.sandbox.take_webhooks();
    for webhook in &first {
        stack.deliver(webhook).await;
    }
    let items_before = stack.count_items("").await;

    // Everything the proxy user wrote now comes back, authored by the proxy user.
    let echoes = stack.sandbox.take_webhooks();
    assert!(!echoes.is_empty());
    for webhook in &echoes {
        let answer = stack.deliver(webhook).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(
            answer.body["events"][0]["reason"], "proxy_author",
            "{:?}",
            answer.body
        );
    }
    assert_eq!(stack.count_items("").await, items_before);
    assert!(stack.sandbox.take_webhooks().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_delivery_writes_once() {
    let stack = Stack::start().await;
    open_github_issue(&stack, "Once", "Body", &[]).await;
    let webhook = stack.sandbox.take_webhooks().remove(0);

    let first = stack.deliver(&webhook).await;
    let second = stack.deliver(&webhook).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["outcome"], "duplicate");
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_deliveries_write_once() {
    let stack = Stack::start().await;
    open_github_issue(&stack, "Race", "Body", &[]).await;
    let webhook = stack.sandbox.take_webhooks().remove(0);

    let (first, second) = tokio::join!(stack.deliver(&webhook), stack.deliver(&webhook));
    let mut outcomes = vec![
        first.body["outcome"].clone(),
        second.body["outcome"].clone(),
    ];
    outcomes.sort_by_key(|v| v.to_string());
    assert_eq!(outcomes, vec![json!("duplicate"), json!("processed")]);
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_edit_is_stale() {
    let stack = Stack::start().await;
    let human = stack.human();
    let number = open_github_issue(&stack, "v1", "Body", &[]).await;
    stack.pump_until_quiet(6).await;

    let path = format!("/repos/{REPO}/issues/{number}");
    human
        .github(Method::PATCH, &path, Some(json!({"title": "v2"})))
        .await;
    human
        .github(Method::PATCH, &path, Some(json!({"title": "v3"})))
        .await;
    let mut edits = stack.sandbox.take_webhooks();
    assert_eq!(edits.len(), 2);
    edits.reverse();

    let newer = stack.deliver(&edits[0]).await;
    let older = stack.deliver(&edits[1]).await;
    assert_eq!(
        newer.body["events"][0]["decision"], "synced",
        "{:?}",
        newer.body
    );
    assert_eq!(
        older.body["events"][0]["reason"], "stale",
        "{:?}",
        older.body
    );
    assert_eq!(stack.sandbox.state().jira.issues[0].summary, "v3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_then_success() {
    let stack = Stack::start().await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/rest/api/3/issue".to_owned()),
        status: 429,
        headers: vec![("Retry-After".to_owned(), "1".to_owned())],
        body: None,
        times: 1,
        delay_ms: 0,
    });
    open_github_issue(&stack, "Limited", "Body", &[]).await;
    let answers = stack.pump().await;

    assert_eq!(answers[0].1.status, 200, "{:?}", answers[0].1.body);
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
    let creates: Vec<u16> = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/jira/rest/api/3/issue")
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, vec![429, 201]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_past_budget_parks_then_replays() {
    let stack = Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1500),
        ..StackOptions::default()
    })
    .await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/rest/api/3/issue".to_owned()),
        status: 503,
        headers: vec![],
        body: None,
        times: 1000,
        delay_ms: 0,
    });
    open_github_issue(&stack, "Parked", "Body", &[]).await;
    let webhook = stack.sandbox.take_webhooks().remove(0);

    let answer = stack.deliver(&webhook).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(answer.body["outcome"], "parked");
    let parked = stack.store.list_parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].error.contains("503"), "{}", parked[0].error);
    assert!(stack.sandbox.state().jira.issues.is_empty());

    let redelivered = stack.deliver(&webhook).await;
    assert_eq!(redelivered.body["outcome"], "duplicate");

    stack.sandbox.clear_faults();
    let report = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(report.replayed, 1);
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
    assert!(stack.store.list_parked().await.unwrap().is_empty());

    let again = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(again.replayed, 0);
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_errors_are_parked() {
    let stack = Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1200),
        ..StackOptions::default()
    })
    .await;
    for status in [401u16, 403, 404, 410, 422, 429, 500] {
        stack.sandbox.clear_faults();
        stack.sandbox.add_fault(Fault {
            tracker: Some("jira".to_owned()),
            method: Some("POST".to_owned()),
            path_contains: Some("/rest/api/3/issue".to_owned()),
            status,
            headers: if status == 429 {
                vec![("Retry-After".to_owned(), "3600".to_owned())]
            } else {
                vec![]
            },
            body: None,
            times: 1000,
            delay_ms: 0,
        });
        open_github_issue(&stack, &format!("Fails with {status}"), "Body", &[]).await;
        let webhook = stack.sandbox.take_webhooks().remove(0);
        let answer = stack.deliver(&webhook).await;
        assert_eq!(answer.status, 202, "status {status}: {:?}", answer.body);
        let error = answer.body["events"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            error.contains(&status.to_string()),
            "status {status}: {error}"
        );
    }
    assert_eq!(stack.store.list_parked().await.unwrap().len(), 7);
    assert!(stack.sandbox.state().jira.issues.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_rereads_secret_once() {
    let stack = Stack::start().await;
    let jira_proxy = &stack.sandbox_config.jira.users[0];
    let wrong = json!({"email": jira_proxy.email, "api_token": "revoked", "webhook_secret": stack.sandbox_config.jira.webhook_secret});
    stack
        .secrets_client
        .put_secret_value()
        .secret_id(&stack.jira_secret_id)
        .secret_string(wrong.to_string())
        .send()
        .await
        .unwrap();
    // Warm the cache with the revoked token, then rotate the secret to the right one.
    let key = open_jira_issue(&stack, "Warm").await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    let _ = stack.deliver(&webhook).await;
    let right = json!({"email": jira_proxy.email, "api_token": jira_proxy.api_token, "webhook_secret": stack.sandbox_config.jira.webhook_secret});
    stack
        .secrets_client
        .put_secret_value()
        .secret_id(&stack.jira_secret_id)
        .secret_string(right.to_string())
        .send()
        .await
        .unwrap();
    stack.sandbox.take_webhooks();

    open_github_issue(&stack, "After rotation", "Body", &[]).await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    let answer = stack.deliver(&webhook).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body["events"][0]["decision"], "synced",
        "{key}: {:?}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconnected_projects_are_skipped() {
    let stack = Stack::start().await;
    let human = stack.human();
    human
        .github(
            Method::POST,
            "/repos/acme/secret-plans/issues",
            Some(json!({"title": "Private"})),
        )
        .await;
    human
        .jira(
            Method::POST,
            "/rest/api/3/issue",
            Some(json!({"fields": {"project": {"key": "HR"}, "issuetype": {"name": "Task"}, "summary": "Salaries"}})),
        )
        .await;
    let answers = stack.pump().await;

    for (tracker, answer) in &answers {
        assert_eq!(answer.status, 200, "{tracker}: {:?}", answer.body);
        assert_eq!(
            answer.body["events"][0]["reason"], "not_connected",
            "{tracker}: {:?}",
            answer.body
        );
    }
    let state = stack.sandbox.state();
    assert_eq!(state.github.issues.len(), 1);
    assert_eq!(state.jira.issues.len(), 1);
    let proxy_calls = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .filter(|r| {
            r.user_id.as_deref() == Some(&stack.sandbox_config.github.users[0].id.to_string())
                || r.user_id.as_deref()
                    == Some(stack.sandbox_config.jira.users[0].account_id.as_str())
        })
        .count();
    assert_eq!(proxy_calls, 0);
    assert_eq!(
        stack.count_items("").await,
        3,
        "only the two instances and the connection are stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_edit_and_delete_follow() {
    let stack = Stack::start().await;
    let human = stack.human();
    let number = open_github_issue(&stack, "Comments", "Body", &[]).await;
    stack.pump_until_quiet(6).await;

    let comment = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": "first"})),
        )
        .await;
    let comment_id = comment["id"].as_u64().unwrap();
    stack.pump_until_quiet(6).await;
    human
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/comments/{comment_id}"),
            Some(json!({"body": "edited"})),
        )
        .await;
    stack.pump_until_quiet(6).await;
    let bodies: Vec<String> = stack
        .sandbox
        .state()
        .jira
        .comments
        .iter()
        .map(|c| c.body.to_string())
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("edited"), "{bodies:?}");

    human
        .github(
            Method::DELETE,
            &format!("/repos/{REPO}/issues/comments/{comment_id}"),
            None,
        )
        .await;
    stack.pump_until_quiet(6).await;
    assert!(stack.sandbox.state().jira.comments.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_and_state_sync() {
    let stack = Stack::start().await;
    let human = stack.human();
    let number = open_github_issue(&stack, "Labels", "Body", &[]).await;
    stack.pump_until_quiet(6).await;

    let path = format!("/repos/{REPO}/issues/{number}");
    human
        .github(
            Method::POST,
            &format!("{path}/labels"),
            Some(json!({"labels": ["needs triage"]})),
        )
        .await;
    human
        .github(Method::PATCH, &path, Some(json!({"state": "closed"})))
        .await;
    stack.pump_until_quiet(6).await;
    let jira = stack.sandbox.state().jira.issues[0].clone();
    assert_eq!(jira.labels, vec!["needs_triage"]);
    assert_eq!(jira.status, "Done");

    human
        .github(
            Method::DELETE,
            &format!("{path}/labels/needs%20triage"),
            None,
        )
        .await;
    human
        .github(Method::PATCH, &path, Some(json!({"state": "open"})))
        .await;
    stack.pump_until_quiet(6).await;
    let jira = stack.sandbox.state().jira.issues[0].clone();
    assert!(jira.labels.is_empty(), "{:?}", jira.labels);
    assert_eq!(jira.status, "To Do");
}
/// One human action in the randomized loop test.
async fn random_action(
    stack: &Stack,
    rng: &mut rand::rngs::StdRng,
    pairs: &[(u64, String)],
    step: usize,
) {
    use rand::Rng;
    let human = stack.human();
    let (number, key) = &pairs[rng.random_range(0..pairs.len())];
    let github_path = format!("/repos/{REPO}/issues/{number}");
    let jira_path = format!("/rest/api/3/issue/{key}");
    match rng.random_range(0..8) {
        0 => {
            human
                .github(
                    Method::PATCH,
                    &github_path,
                    Some(json!({"title": format!("GitHub title {step}")})),
                )
                .await;
        }
        1 => {
            human
                .github(
                    Method::PATCH,
                    &github_path,
                    Some(json!({"body": format!("Body *{step}* from GitHub")})),
                )
                .await;
        }
        2 => {
            human
                .github(
                    Method::POST,
                    &format!("{github_path}/comments"),
                    Some(json!({"body": format!("GitHub comment {step}")})),
                )
                .await;
        }
        3 => {
            let state = if rng.random_bool(0.5) {
                "closed"
            } else {
                "open"
            };
            human
                .github(Method::PATCH, &github_path, Some(json!({"state": state})))
                .await;
        }
        4 => {
            human
                .github(
                    Method::POST,
                    &format!("{github_path}/labels"),
                    Some(json!({"labels": [format!("label-{}", step % 3)]})),
                )
                .await;
        }
        5 => {
            human
                .jira(
                    Method::PUT,
                    &jira_path,
                    Some(json!({"fields": {"summary": format!("Jira summary {step}")}})),
                )
                .await;
        }
        6 => {
            let body = json!({"body": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": format!("Jira comment {step}")}]}
            ]}});
            human
                .jira(Method::POST, &format!("{jira_path}/comment"), Some(body))
                .await;
        }
        _ => {
            let done = stack
                .sandbox
                .state()
                .jira
                .issues
                .iter()
                .any(|issue| &issue.key == key && issue.status == "Done");
            // Jira offers no transition to the status an issue already has.
            let transition = if done { "11" } else { "31" };
            human
                .jira(
                    Method::POST,
                    &format!("{jira_path}/transitions"),
                    Some(json!({"transition": {"id": transition}})),
                )
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_human_actions_converge_without_loop() {
    use rand::SeedableRng;
    let stack = Stack::start().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_2026);

    open_github_issue(&stack, "Started on GitHub", "Body", &["bug"]).await;
    stack.pump_until_quiet(6).await;
    open_jira_issue(&stack, "Started on Jira").await;
    stack.pump_until_quiet(6).await;
    let state = stack.sandbox.state();
    assert_eq!(state.github.issues.len(), 2);
    assert_eq!(state.jira.issues.len(), 2);
    // Pair the issues by title: the first GitHub issue with its Jira copy, and the reverse.
    let mut pairs = Vec::new();
    for github in &state.github.issues {
        let jira = state
            .jira
            .issues
            .iter()
            .find(|j| j.summary == github.title)
            .expect("a Jira peer with the same title");
        pairs.push((github.number, jira.key.clone()));
    }

    for step in 0..30 {
        random_action(&stack, &mut rng, &pairs, step).await;
        // A loop shows up here as a pump that never runs dry.
        stack.pump_until_quiet(6).await;
    }
    assert!(stack.sandbox.take_webhooks().is_empty());

    let state = stack.sandbox.state();
    assert_eq!(state.github.issues.len(), 2, "no issue was duplicated");
    assert_eq!(state.jira.issues.len(), 2, "no issue was duplicated");
    for (number, key) in &pairs {
        let github = state
            .github
            .issues
            .iter()
            .find(|i| i.number == *number)
            .unwrap();
        let jira = state.jira.issues.iter().find(|i| &i.key == key).unwrap();
        assert_eq!(github.title, jira.summary, "{key}");
        let jira_closed = jira.status == "Done";
        assert_eq!(
            github.state == "closed",
            jira_closed,
            "{key}: {} vs {}",
            github.state,
            jira.status
        );
        // Each human comment exists once on its own side and once as a copy on the other.
        let github_comments: Vec<&str> = state
            .github
            .comments
            .iter()
            .filter(|c| c.issue_number == *number)
            .map(|c| c.body.as_str())
            .collect();
        let jira_comments: Vec<String> = state
            .jira
            .comments
            .iter()
            .filter(|c| c.issue_id == jira.id)
            .map(|c| c.body.to_string())
            .collect();
        for text in github_comments
            .iter()
            .filter(|b| b.starts_with("GitHub comment"))
        {
            let copies = jira_comments.iter().filter(|b| b.contains(*text)).count();
            assert_eq!(copies, 1, "{key}: {text} copied {copies} times");
        }
        for body in jira_comments.iter().filter(|b| b.contains("Jira comment")) {
            let start = body.find("Jira comment").unwrap();
            let text: String = body[start..].chars().take_while(|c| *c != '"').collect();
            let copies = github_comments.iter().filter(|b| b.contains(&text)).count();
            assert_eq!(copies, 1, "{number}: {text} copied {copies} times");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_on_synced_copy_reaches_origin() {
    let stack = Stack::start().await;
    let key = open_jira_issue(&stack, "Copied to GitHub").await;
    stack.pump_until_quiet(6).await;
    let number = stack.sandbox.state().github.issues[0].number;

    // A person labels the GitHub copy, whose content proxysync wrote.
    let path = format!("/repos/{REPO}/issues/{number}/labels");
    stack
        .human()
        .github(Method::POST, &path, Some(json!({"labels": ["urgent"]})))
        .await;
    let answers = stack.pump_until_quiet(6).await;

    let outcomes = outcomes(&answers);
    assert!(
        outcomes.contains(&"github:synced:updated".to_owned()),
        "{outcomes:?}"
    );
    let jira = stack
        .sandbox
        .state()
        .jira
        .issues
        .into_iter()
        .find(|issue| issue.key == key)
        .unwrap();
    assert!(
        jira.labels.contains(&"urgent".to_owned()),
        "{:?}",
        jira.labels
    );
}
