//! The echo guard and the proxy-use check: proxysync's own writes are dropped whoever the
//! tracker names as their author, a person's later change to the same value still syncs, and
//! changes by the proxy account that proxysync did not write are counted for `doctor`.

use hmac::{Hmac, Mac};
use proxysync_tests::tracker_sandbox::RecordedWebhook;
use proxysync_tests::{JIRA_PROJECT, REPO, Stack};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// Opens a GitHub issue as the human, syncs it to Jira and drains every echo.
/// Returns the GitHub issue number and the Jira key.
async fn linked_issue(stack: &Stack, title: &str) -> (u64, String) {
    let issue = stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": title, "body": "Steps:\n\n1. open\n2. save", "labels": ["bug"]})),
        )
        .await;
    let number = issue["number"].as_u64().unwrap();
    stack.pump_until_quiet(5).await;
    let state = stack.sandbox.state();
    let key = state
        .jira
        .issues
        .iter()
        .find(|issue| issue.summary == title)
        .expect("the Jira copy")
        .key
        .clone();
    (number, key)
}

/// Rewrites a Jira webhook so that Alice, not the proxy user, is its author, and signs it again.
fn authored_by_alice(stack: &Stack, webhook: &RecordedWebhook) -> RecordedWebhook {
    let proxy = &stack.sandbox_config.jira.users[0].account_id;
    let alice = &stack.sandbox_config.jira.users[1].account_id;
    let body = String::from_utf8(webhook.body.clone())
        .unwrap()
        .replace(proxy.as_str(), alice.as_str());
    assert!(!body.contains(proxy.as_str()));
    let mut mac =
        Hmac::<Sha256>::new_from_slice(stack.sandbox_config.jira.webhook_secret.as_bytes())
            .unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let headers = webhook
        .headers
        .iter()
        .map(|(name, value)| {
            if name.eq_ignore_ascii_case("x-hub-signature") {
                (name.clone(), signature.clone())
            } else {
                (name.clone(), value.clone())
            }
        })
        .collect();
    RecordedWebhook {
        tracker: webhook.tracker.clone(),
        headers,
        body: body.into_bytes(),
    }
}

fn decisions(answer: &Value) -> Vec<String> {
    answer["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|event| {
                    format!(
                        "{}:{}",
                        event["decision"].as_str().unwrap_or("?"),
                        event["reason"]
                            .as_str()
                            .or(event["action"].as_str())
                            .unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn github_issue(stack: &Stack, number: u64) -> Value {
    stack
        .human()
        .github(Method::GET, &format!("/repos/{REPO}/issues/{number}"), None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthored_issue_echo_is_dropped() {
    let stack = Stack::start().await;
    let human = stack.human();
    let issue = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Export fails", "body": "Large **files** only.", "labels": ["bug"]})),
        )
        .await;
    let number = issue["number"].as_u64().unwrap();
    for webhook in stack.sandbox.take_webhooks() {
        stack.deliver(&webhook).await;
    }

    // Jira reports the proxy user's create as if Alice had made it, as a service desk's
    // "create on behalf of" does.
    let echoes: Vec<RecordedWebhook> = stack
        .sandbox
        .take_webhooks()
        .into_iter()
        .filter(|webhook| webhook.tracker == "jira")
        .collect();
    assert!(!echoes.is_empty());
    let mut echoed = 0;
    for webhook in &echoes {
        let answer = stack.deliver(&authored_by_alice(&stack, webhook)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        for decision in decisions(&answer.body) {
            assert_eq!(decision, "skipped:echo", "{}", answer.body);
            echoed += 1;
        }
    }
    assert!(echoed > 0, "no Jira event reached the echo guard");
    assert!(
        stack.sandbox.take_webhooks().is_empty(),
        "an echo was written back onto GitHub"
    );
    let copy = github_issue(&stack, number).await;
    assert_eq!(copy["title"], "Export fails");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverted_value_is_not_an_echo() {
    let stack = Stack::start().await;
    let (number, key) = linked_issue(&stack, "Login slow").await;
    let human = stack.human();

    human
        .jira(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            Some(json!({"fields": {"summary": "Login slow on Mondays"}})),
        )
        .await;
    stack.pump_until_quiet(5).await;
    assert_eq!(
        github_issue(&stack, number).await["title"],
        "Login slow on Mondays"
    );

    // Alice puts back the title that proxysync once wrote onto the Jira issue: her change,
    // not an echo, so GitHub follows.
    human
        .jira(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            Some(json!({"fields": {"summary": "Login slow"}})),
        )
        .await;
    let answers = stack.pump_until_quiet(5).await;
    let jira_answer = &answers
        .iter()
        .find(|(tracker, _)| tracker == "jira")
        .expect("the Jira edit webhook")
        .1;
    assert_eq!(
        decisions(&jira_answer.body),
        vec!["synced:updated"],
        "{}",
        jira_answer.body
    );
    assert_eq!(github_issue(&stack, number).await["title"], "Login slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthored_comment_echo_is_dropped() {
    let stack = Stack::start().await;
    let (number, key) = linked_issue(&stack, "Crash on save").await;
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": "Also on `v2.3`."})),
        )
        .await;
    for webhook in stack.sandbox.take_webhooks() {
        let answer = stack.deliver(&webhook).await;
        assert_eq!(
            decisions(&answer.body),
            vec!["synced:comment_added"],
            "{}",
            answer.body
        );
    }

    let echoes = stack.sandbox.take_webhooks();
    assert_eq!(echoes.len(), 1, "one Jira comment_created webhook");
    let answer = stack.deliver(&authored_by_alice(&stack, &echoes[0])).await;
    assert_eq!(
        decisions(&answer.body),
        vec!["skipped:echo"],
        "{}",
        answer.body
    );
    assert!(stack.sandbox.take_webhooks().is_empty());
    let comments = stack
        .human()
        .github(
            Method::GET,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            None,
        )
        .await;
    // The link comment and Alice's comment; no copy of the Jira copy.
    assert_eq!(comments.as_array().unwrap().len(), 2, "{comments}");
    assert!(key.starts_with(JIRA_PROJECT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_using_proxy_is_reported() {
    let stack = Stack::start().await;
    let (number, _) = linked_issue(&stack, "Printer offline").await;
    let used = stack.store.proxy_use("acme-github").await.unwrap();
    assert_eq!(used, None, "proxysync's own writes counted as human use");

    // Someone signs in to GitHub as the proxy user and edits the issue.
    let proxy_token = &stack.sandbox_config.github.users[0].token;
    let response = reqwest::Client::new()
        .patch(format!(
            "{}/repos/{REPO}/issues/{number}",
            stack.sandbox.github_url()
        ))
        .bearer_auth(proxy_token)
        .header("user-agent", "proxysync-tests")
        .json(&json!({"title": "Printer offline since Friday"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let webhooks = stack.sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let answer = stack.deliver(&webhooks[0]).await;
    assert_eq!(
        answer.body["events"][0]["reason"], "proxy_author",
        "{}",
        answer.body
    );

    let used = stack
        .store
        .proxy_use("acme-github")
        .await
        .unwrap()
        .expect("the proxy change is counted");
    assert_eq!(used.changes, 1);
    assert_eq!(used.last_issue, format!("{REPO}#{number}"));
    assert_eq!(used.last_kind, "issues.edited");

    let reports = proxysync_core::doctor::run(&stack.pipeline).await.unwrap();
    let github = reports
        .iter()
        .find(|report| report.instance == "acme-github")
        .unwrap();
    assert_eq!(github.warnings.len(), 1, "{:?}", github.warnings);
    assert_eq!(github.warnings[0].name, "proxy user used by people");
    assert!(
        github.warnings[0]
            .detail
            .contains(&format!("{REPO}#{number}")),
        "{}",
        github.warnings[0].detail
    );
    let jira = reports
        .iter()
        .find(|report| report.instance == "acme-jira")
        .unwrap();
    assert!(jira.warnings.is_empty(), "{:?}", jira.warnings);

    stack.store.clear_proxy_use("acme-github").await.unwrap();
    assert_eq!(stack.store.proxy_use("acme-github").await.unwrap(), None);
}
