//! Recorded webhooks: signatures, draining, and forwarding to a receiver.

mod common;

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracker_sandbox::Tracker;

#[tokio::test]
async fn github_signature_verifies_with_secret() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "signed" })).await;
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let webhook = &webhooks[0];

    let secret = &sandbox.config().github.webhook_secret;
    let expected = format!("sha256={}", hmac_hex(secret, &webhook.body));
    assert_eq!(
        webhook.header("X-Hub-Signature-256"),
        Some(expected.as_str())
    );
    let forged = format!("sha256={}", hmac_hex("some other secret", &webhook.body));
    assert_ne!(webhook.header("X-Hub-Signature-256"), Some(forged.as_str()));
}

#[tokio::test]
async fn jira_signature_verifies_with_secret() {
    let sandbox = start().await;
    create_jira_issue(&sandbox, JIRA_HUMAN, "signed").await;
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let webhook = &webhooks[0];

    let secret = &sandbox.config().jira.webhook_secret;
    let expected = format!("sha256={}", hmac_hex(secret, &webhook.body));
    assert_eq!(webhook.header("X-Hub-Signature"), Some(expected.as_str()));
    assert!(webhook.header("X-Atlassian-Webhook-Identifier").is_some());
    assert!(
        webhook
            .header("Content-Type")
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn empty_secret_leaves_webhooks_unsigned() {
    let mut config = tracker_sandbox::SandboxConfig::demo();
    config.github.webhook_secret.clear();
    let sandbox = tracker_sandbox::Sandbox::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "unsigned" })).await;
    let webhooks = sandbox.take_webhooks();
    assert!(webhooks[0].header("X-Hub-Signature-256").is_none());
}

#[tokio::test]
async fn take_drains_the_outbox() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "once" })).await;
    assert_eq!(sandbox.take_webhooks().len(), 1);
    assert!(sandbox.take_webhooks().is_empty());
}

/// Starts a webhook receiver on a free loopback port that passes each delivery's headers and body to
/// the returned channel.
async fn start_receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(sender): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    sender.send((headers, body)).unwrap();
                    "ok"
                },
            ),
        )
        .with_state(sender);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

async fn next_delivery(
    receiver: &mut mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
) -> (HeaderMap, Bytes) {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a forwarded webhook arrives within 10 seconds")
        .expect("the receiver is still running")
}

#[tokio::test]
async fn forwarding_posts_webhooks_in_order() {
    let sandbox = start().await;
    let (url, mut receiver) = start_receiver().await;
    sandbox.forward_webhooks(Tracker::Github, Some(url));

    create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "forwarded", "labels": ["a", "b"] }),
    )
    .await;
    let recorded = sandbox.take_webhooks();
    assert_eq!(recorded.len(), 3);

    for webhook in &recorded {
        let (headers, body) = next_delivery(&mut receiver).await;
        assert_eq!(body.as_ref(), webhook.body.as_slice());
        for name in [
            "X-GitHub-Event",
            "X-GitHub-Delivery",
            "X-Hub-Signature-256",
            "User-Agent",
        ] {
            assert_eq!(
                headers[name].to_str().unwrap(),
                webhook.header(name).unwrap(),
                "header {name}"
            );
        }
    }

    create_jira_issue(&sandbox, JIRA_HUMAN, "not forwarded").await;
    let stray = tokio::time::timeout(Duration::from_millis(300), receiver.recv()).await;
    assert!(
        stray.is_err(),
        "Jira webhooks are not forwarded to the GitHub receiver"
    );
}

#[tokio::test]
async fn binary_forwards_jira_webhooks() {
    let (url, mut receiver) = start_receiver().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracker-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--forward-jira", &url])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the tracker-sandbox binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();

    let address = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("tracker sandbox listening") {
                let address = line
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("address="))
                    .expect("the listening line names the address");
                return address.to_owned();
            }
        }
        panic!("the binary exited before listening");
    })
    .await
    .expect("the binary logs its address within 20 seconds");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let jira_url = format!("http://{address}/jira");
    let user = &tracker_sandbox::SandboxConfig::demo().jira.users[JIRA_HUMAN];
    let response = client()
        .post(format!("{jira_url}/rest/api/3/issue"))
        .basic_auth(&user.email, Some(&user.api_token))
        .json(&json!({
            "fields": {
                "project": { "key": "HR" },
                "issuetype": { "name": "Task" },
                "summary": "From the binary",
            }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let (headers, body) = next_delivery(&mut receiver).await;
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["webhookEvent"], "jira:issue_created");
    assert_eq!(payload["issue"]["key"], "HR-1");
    let secret = tracker_sandbox::SandboxConfig::demo().jira.webhook_secret;
    assert_eq!(
        headers["X-Hub-Signature"].to_str().unwrap(),
        format!("sha256={}", hmac_hex(&secret, &body))
    );

    child.kill().await.unwrap();
}
