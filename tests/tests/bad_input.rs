//! Bad requests and unreachable AWS services: each gets its documented
//! status and a one-line JSON error, and nothing is written.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Store;
use proxysync_core::trackers::signature::sign_hex_hmac;
use proxysync_core::{Pipeline, Settings};
use proxysync_tests::{REPO, Stack, aws_config};
use reqwest::Method;
use serde_json::json;

fn github_headers(event: &str, secret: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("x-github-event".to_owned(), event.to_owned()),
        (
            "x-github-delivery".to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ),
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            "x-hub-signature-256".to_owned(),
            sign_hex_hmac(secret, body),
        ),
    ]
}

async fn assert_rejected(
    stack: &Stack,
    route: &str,
    instance: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
    code: &str,
) {
    let before = stack.count_items("").await;
    let answer = stack.deliver_raw(route, instance, headers, body).await;
    assert_eq!(answer.status, status, "{code}: {:?}", answer.body);
    assert_eq!(answer.body["error"], code, "{:?}", answer.body);
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{code}: {message:?}"
    );
    assert_eq!(
        stack.count_items("").await,
        before,
        "{code} wrote to the table"
    );
    assert!(
        stack.sandbox.state().jira.issues.is_empty(),
        "{code} wrote to Jira"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_write_nothing() {
    let stack = Stack::start().await;
    let secret = stack.sandbox_config.github.webhook_secret.clone();
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "x"})),
        )
        .await;
    let real = stack.sandbox.take_webhooks().remove(0);

    let mut unsigned = github_headers("issues", &secret, &real.body);
    unsigned.retain(|(name, _)| name != "x-hub-signature-256");
    assert_rejected(
        &stack,
        "github",
        "acme-github",
        unsigned,
        real.body.clone(),
        401,
        "missing_signature",
    )
    .await;

    let wrong = github_headers("issues", "not-the-secret", &real.body);
    assert_rejected(
        &stack,
        "github",
        "acme-github",
        wrong,
        real.body.clone(),
        401,
        "bad_signature",
    )
    .await;

    let mut tampered = real.body.clone();
    tampered.extend_from_slice(b" ");
    let headers = github_headers("issues", &secret, &real.body);
    assert_rejected(
        &stack,
        "github",
        "acme-github",
        headers,
        tampered,
        401,
        "bad_signature",
    )
    .await;

    let not_json = b"<xml/>".to_vec();
    let headers = github_headers("issues", &secret, &not_json);
    assert_rejected(
        &stack,
        "github",
        "acme-github",
        headers,
        not_json,
        400,
        "malformed",
    )
    .await;

    let wrong_shape = br#"{"action":"opened","issue":{"number":"one"}}"#.to_vec();
    let headers = github_headers("issues", &secret, &wrong_shape);
    assert_rejected(
        &stack,
        "github",
        "acme-github",
        headers,
        wrong_shape,
        400,
        "malformed",
    )
    .await;

    let headers = github_headers("issues", &secret, &real.body);
    assert_rejected(
        &stack,
        "github",
        "nobody",
        headers.clone(),
        real.body.clone(),
        404,
        "unknown_instance",
    )
    .await;
    // An unauthenticated caller learns nothing of the instance's tracker.
    let probe = stack
        .deliver_raw("jira", "acme-github", Vec::new(), b"{}".to_vec())
        .await;
    let message = probe.body["message"].as_str().unwrap_or_default();
    assert!(!message.contains("github instance"), "{message}");
    assert!(message.contains("acme-github"), "{message}");
    assert_rejected(
        &stack,
        "gitlab",
        "acme-github",
        headers.clone(),
        real.body.clone(),
        404,
        "unknown_route",
    )
    .await;
    assert_rejected(
        &stack,
        "jira",
        "acme-github",
        headers,
        real.body.clone(),
        404,
        "unknown_instance",
    )
    .await;

    let huge = vec![b' '; stack.pipeline.settings().max_body_bytes + 1];
    let headers = github_headers("issues", &secret, &huge);
    assert_rejected(
        &stack,
        "github",
        "acme-github",
        headers,
        huge,
        413,
        "too_large",
    )
    .await;

    let jira_secret = stack.sandbox_config.jira.webhook_secret.clone();
    let body = br#"{"webhookEvent":"jira:issue_updated","timestamp":1}"#.to_vec();
    let headers = vec![(
        "x-hub-signature".to_owned(),
        sign_hex_hmac(&jira_secret, &body),
    )];
    assert_rejected(&stack, "jira", "acme-jira", headers, body, 400, "malformed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhandled_event_types_are_ignored() {
    let stack = Stack::start().await;
    let secret = stack.sandbox_config.github.webhook_secret.clone();
    let before = stack.count_items("").await;

    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#.to_vec();
    let answer = stack
        .deliver_raw(
            "github",
            "acme-github",
            github_headers("ping", &secret, &ping),
            ping,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["outcome"], "ignored");

    let push = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let answer = stack
        .deliver_raw(
            "github",
            "acme-github",
            github_headers("push", &secret, &push),
            push,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["outcome"], "ignored");

    let jira_secret = stack.sandbox_config.jira.webhook_secret.clone();
    let body = br#"{"webhookEvent":"worklog_created","timestamp":1}"#.to_vec();
    let headers = vec![(
        "x-hub-signature".to_owned(),
        sign_hex_hmac(&jira_secret, &body),
    )];
    let answer = stack.deliver_raw("jira", "acme-jira", headers, body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["outcome"], "ignored");
    assert_eq!(stack.count_items("").await, before);
}

async fn pipeline_with(stack: &Stack, dynamo_endpoint: &str, secrets_endpoint: &str) -> Pipeline {
    let table = stack.table.clone();
    let settings =
        Settings::from_lookup(|name| (name == "PROXYSYNC_TABLE").then(|| table.clone())).unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&aws_config(dynamo_endpoint).await);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws_config(secrets_endpoint).await);
    let secrets = Secrets::aws(secrets, Duration::from_secs(60));
    let store = Store::new(dynamo, table);
    let http = proxysync_core::lambda::http_client().unwrap();
    Pipeline::with_config(settings, store, secrets, http, stack.config.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_unreachable_answers_503() {
    let stack = Stack::start().await;
    let moto = proxysync_tests::moto_endpoint().await;
    // Nothing listens on port 9 of loopback, so connections are refused at once.
    let dead = "http://127.0.0.1:9";
    let mut config = stack.config.clone();
    for instance in &mut config.instances {
        instance.proxy = Some(proxysync_core::model::ProxyIdentity {
            id: "proxy".to_owned(),
            name: String::new(),
        });
    }
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "x"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    let request = proxysync_core::tracker::InboundRequest {
        headers: webhook
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
        body: webhook.body.clone(),
        ..Default::default()
    };

    for (dynamo, secrets, what) in [
        (dead, moto.as_str(), "DynamoDB"),
        (moto.as_str(), dead, "Secrets Manager"),
    ] {
        let pipeline = pipeline_with(&stack, dynamo, secrets).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let answer = pipeline
            .handle_webhook("github", "acme-github", &request, deadline)
            .await;
        assert_eq!(answer.status, 503, "{what}: {:?}", answer.body);
        assert_eq!(answer.body["error"], "unavailable", "{what}");
        assert_eq!(stack.count_items("delivery").await, 0, "{what}");
        assert!(stack.sandbox.state().jira.issues.is_empty(), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_body_from_api_gateway() {
    let stack = Stack::start().await;
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Encoded"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    let headers: HashMap<String, String> = webhook
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/github/{instance}",
        "rawPath": "/webhooks/github/acme-github",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": {"method": "POST", "path": "/webhooks/github/acme-github", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "GitHub-Hookshot/1"},
            "requestId": "r1", "routeKey": "POST /webhooks/github/{instance}", "stage": "$default", "time": "04/Dec/2026:16:00:00 +0000", "timeEpoch": 1796400000000u64
        },
        "pathParameters": {"instance": "acme-github"},
        "body": base64::engine::general_purpose::STANDARD.encode(&webhook.body),
        "isBase64Encoded": true
    });
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(event).expect("API Gateway v2 event");
    let request = lambda_http::Request::from(request);

    let response = proxysync_core::lambda::handle(&stack.pipeline, "github", request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stack.sandbox.state().jira.issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_webhook_secret_verifies_during_rotation() {
    let stack = Stack::start().await;
    let proxy = &stack.sandbox_config.github.users[0];
    let rotated = json!({
        "token": proxy.token,
        "webhook_secret": "the-new-secret",
        "previous_webhook_secret": stack.sandbox_config.github.webhook_secret,
    });
    stack
        .secrets_client
        .put_secret_value()
        .secret_id(&stack.github_secret_id)
        .secret_string(rotated.to_string())
        .send()
        .await
        .unwrap();
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Rotating"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);

    // The tracker still signs with the previous secret.
    let old = stack.deliver(&webhook).await;
    assert_eq!(old.status, 200, "{:?}", old.body);

    // The new secret verifies too, and a third one does not.
    let body = webhook.body.clone();
    let new = stack
        .deliver_raw(
            "github",
            "acme-github",
            github_headers("issues", "the-new-secret", &body),
            body.clone(),
        )
        .await;
    assert_eq!(new.status, 200, "{:?}", new.body);
    let other = stack
        .deliver_raw(
            "github",
            "acme-github",
            github_headers("issues", "neither", &body),
            body,
        )
        .await;
    assert_eq!(other.status, 401, "{:?}", other.body);
}
