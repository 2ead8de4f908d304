//! Logs of a full run, captured in Lambda's JSON format: no secret and no webhook text at
//! info or above, one line per outcome, and the span fields of each webhook.
//!
//! This test has a binary of its own because tracing caches whether a log site is enabled
//! across threads, so tests logging without a subscriber in the same process could hide lines
//! from this one.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{REPO, Stack, StackOptions};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// A log sink that tests read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("JSON log line"))
            .collect()
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn jira_fault(path: &str, status: u16) -> Fault {
    Fault {
        tracker: Some("jira".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some(path.to_owned()),
        status,
        headers: vec![],
        body: None,
        times: 1000,
        delay_ms: 0,
    }
}

/// Runs a full sync with every outcome while capturing logs as Lambda's JSON format writes them.
#[tokio::test(flavor = "current_thread")]
async fn logs_carry_no_secrets_or_bodies() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stack = Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1200),
        ..StackOptions::default()
    })
    .await;
    let human = stack.human();
    let texts = [
        "Quarterly llama migration",
        "confidential-body-7431",
        "comment-text-5512",
        "jira-comment-9921",
        "malformed-body-text-3307",
        "parked-comment-6650",
    ];
    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": texts[0], "body": texts[1]})),
        )
        .await;
    let number = created["number"].as_u64().unwrap();
    let first = stack.sandbox.take_webhooks().remove(0);
    stack.deliver(&first).await;
    let duplicate = stack.deliver(&first).await;
    assert_eq!(duplicate.body["outcome"], "duplicate");
    stack.pump_until_quiet(6).await;

    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": texts[2]})),
        )
        .await;
    stack.pump_until_quiet(6).await;
    let key = stack.sandbox.state().jira.issues[0].key.clone();
    human
        .jira(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/comment"),
            Some(json!({"body": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": texts[3]}]}
            ]}})),
        )
        .await;
    stack.pump_until_quiet(6).await;

    // A comment that fails on Jira is parked.
    stack.sandbox.add_fault(jira_fault("/comment", 503));
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": texts[5]})),
        )
        .await;
    let answers = stack.pump().await;
    assert_eq!(answers[0].1.status, 202, "{:?}", answers[0].1.body);
    stack.sandbox.clear_faults();

    // A forged signature and a body of the wrong shape are rejected.
    let github_secret = stack.sandbox_config.github.webhook_secret.clone();
    let body = json!({"action": "opened", "issue": {"number": texts[4]}}).to_string();
    let headers = |signature: String| {
        vec![
            ("x-github-event".to_owned(), "issues".to_owned()),
            (
                "x-github-delivery".to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("x-hub-signature-256".to_owned(), signature),
        ]
    };
    let forged = stack
        .deliver_raw(
            "github",
            "acme-github",
            headers(sign("wrong-secret", body.as_bytes())),
            body.clone().into_bytes(),
        )
        .await;
    assert_eq!(forged.status, 401);
    let malformed = stack
        .deliver_raw(
            "github",
            "acme-github",
            headers(sign(&github_secret, body.as_bytes())),
            body.into_bytes(),
        )
        .await;
    assert_eq!(malformed.status, 400);

    let lines = buffer.lines();
    let loud: Vec<&Value> = lines
        .iter()
        .filter(|line| matches!(line["level"].as_str(), Some("INFO" | "WARN" | "ERROR")))
        .collect();
    let config = &stack.sandbox_config;
    let mut secrets = vec![
        config.github.webhook_secret.clone(),
        config.jira.webhook_secret.clone(),
    ];
    for user in &config.github.users {
        secrets.push(user.token.clone());
    }
    for user in &config.jira.users {
        secrets.push(user.api_token.clone());
    }
    for line in &loud {
        let text = line.to_string();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached the log: {text}"
            );
        }
        for body_text in texts {
            assert!(
                !text.contains(body_text),
                "webhook text reached the log: {text}"
            );
        }
    }

    let outcome_of = |line: &&Value| line["fields"]["outcome"].as_str().map(str::to_owned);
    let outcomes: Vec<String> = loud.iter().filter_map(outcome_of).collect();
    for expected in ["synced", "skipped", "duplicate", "parked"] {
        assert!(
            outcomes.iter().any(|o| o == expected),
            "no {expected} line in {outcomes:?}"
        );
    }
    let rejected: Vec<&&Value> = loud
        .iter()
        .filter(|line| {
            line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("webhook rejected"))
        })
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");

    let synced = loud
        .iter()
        .find(|line| line["fields"]["outcome"] == "synced")
        .unwrap();
    let spans = synced["spans"].as_array().unwrap();
    let webhook = spans.iter().find(|s| s["name"] == "webhook").unwrap();
    for field in ["tracker", "instance", "event", "delivery", "issues"] {
        assert!(
            webhook.get(field).is_some(),
            "webhook span lacks {field}: {webhook}"
        );
    }
    let sync = spans.iter().find(|s| s["name"] == "sync").unwrap();
    for field in ["connection", "issue", "kind"] {
        assert!(sync.get(field).is_some(), "sync span lacks {field}: {sync}");
    }
}
