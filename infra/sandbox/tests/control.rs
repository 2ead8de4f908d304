//! The `/_sandbox` control routes and the library's lifecycle methods.

mod common;

use common::*;
use serde_json::{Value, json};
use tracker_sandbox::{Sandbox, SandboxConfig, StateSnapshot};

#[tokio::test]
async fn state_route_matches_library_snapshot() {
    let sandbox = start().await;
    create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "state", "labels": ["x"] }),
    )
    .await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "state").await;

    let over_http: StateSnapshot = client()
        .get(format!("{}/_sandbox/state", sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, sandbox.state());
    assert_eq!(over_http.github.issues[0].labels, ["x"]);
    assert_eq!(over_http.jira.issues[0].key, key);
}

#[tokio::test]
async fn requests_route_lists_tracker_calls() {
    let sandbox = start().await;
    as_github(
        client().get(format!("{}/user", sandbox.github_url())),
        &sandbox,
        GITHUB_BOT,
    )
    .send()
    .await
    .unwrap();
    client()
        .get(format!(
            "{}/rest/api/3/issue/SUP-1?fields=summary",
            sandbox.jira_url()
        ))
        .send()
        .await
        .unwrap();

    let logged: Value = client()
        .get(format!("{}/_sandbox/requests", sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logged = logged.as_array().unwrap();
    assert_eq!(logged.len(), 2, "control routes are not logged");
    assert_eq!(logged[0]["tracker"], "github");
    assert_eq!(logged[0]["path"], "/github/user");
    assert_eq!(logged[0]["user_id"], "41000001");
    assert_eq!(logged[0]["status"], 200);
    assert_eq!(logged[1]["tracker"], "jira");
    assert_eq!(
        logged[1]["path"],
        "/jira/rest/api/3/issue/SUP-1?fields=summary"
    );
    assert_eq!(logged[1]["user_id"], Value::Null);
    assert_eq!(logged[1]["status"], 401);
}

#[tokio::test]
async fn take_route_drains_webhooks() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "take" })).await;
    let url = format!("{}/_sandbox/webhooks/take", sandbox.base_url());

    let taken: Value = client()
        .post(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let taken = taken.as_array().unwrap();
    assert_eq!(taken.len(), 1);
    let webhook = &taken[0];
    assert_eq!(webhook["tracker"], "github");
    let body = webhook["body"].as_str().unwrap();
    assert_eq!(
        base64_decode(webhook["body_base64"].as_str().unwrap()),
        body.as_bytes()
    );
    let headers = webhook["headers"].as_array().unwrap();
    let signature = headers
        .iter()
        .find(|pair| pair[0] == "X-Hub-Signature-256")
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .unwrap();
    let secret = &sandbox.config().github.webhook_secret;
    assert_eq!(
        signature,
        format!("sha256={}", hmac_hex(secret, body.as_bytes()))
    );

    let again: Value = client()
        .post(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!([]));
    assert!(sandbox.take_webhooks().is_empty());
}

#[tokio::test]
async fn reset_clears_everything() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "before" })).await;
    create_jira_issue(&sandbox, JIRA_HUMAN, "before").await;
    sandbox.add_fault(tracker_sandbox::Fault {
        path_contains: Some("/never-requested".to_owned()),
        ..Default::default()
    });

    let response = client()
        .post(format!("{}/_sandbox/reset", sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(sandbox.state(), StateSnapshot::default());
    assert!(sandbox.take_webhooks().is_empty());
    assert!(sandbox.requests().is_empty());

    let issue = create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "after" })).await;
    assert_eq!(issue["number"], 1, "numbering restarts after a reset");
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "after").await;
    assert_eq!(key, "SUP-1");
}

#[tokio::test]
async fn health_route_returns_ok() {
    let sandbox = start().await;
    let response = client()
        .get(format!("{}/_sandbox/health", sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn urls_point_at_the_listener() {
    let sandbox = start().await;
    let base = sandbox.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert_eq!(sandbox.github_url(), format!("{base}/github"));
    assert_eq!(sandbox.jira_url(), format!("{base}/jira"));
}

#[tokio::test]
async fn invalid_config_is_rejected() {
    let mut config = SandboxConfig::demo();
    config.github.repos.push("no-slash".to_owned());
    let error = Sandbox::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .err()
        .expect("a repository without an owner is invalid");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("no-slash"));

    let mut config = SandboxConfig::demo();
    config.jira.projects.push("lower".to_owned());
    assert!(
        Sandbox::spawn(config, "127.0.0.1:0".parse().unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let sandbox = start().await;
    let url = format!("{}/_sandbox/health", sandbox.base_url());
    sandbox.shutdown().await;
    let result = client().get(&url).send().await;
    assert!(result.is_err(), "no server responds after shutdown");
}

#[tokio::test]
async fn demo_config_round_trips_through_json() {
    let demo = SandboxConfig::demo();
    let text = serde_json::to_string(&demo).unwrap();
    let parsed: SandboxConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, demo);
    assert!(demo.validate().is_ok());
    assert_eq!(demo.github.repos, ["acme/widgets", "acme/secret-plans"]);
    assert_eq!(demo.jira.projects, ["SUP", "HR"]);
    assert_eq!(demo.github.users.len(), 2);
    assert_eq!(demo.jira.users.len(), 2);
}

#[tokio::test]
async fn salesforce_refresh_token_route_signs_in() {
    let sandbox = start().await;
    let url = format!("{}/_sandbox/salesforce/refresh-tokens", sandbox.base_url());
    let config = sandbox.config().salesforce.clone();
    let agent = &config.users[1];

    let response = client()
        .post(&url)
        .json(&json!({ "username": agent.username }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();
    let refresh_token = issued["refresh_token"].as_str().unwrap();

    // The token works in the refresh token grant, and the access token signs in as the user.
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("refresh_token", refresh_token),
        ])
        .finish();
    let tokens: Value = client()
        .post(format!(
            "{}/services/oauth2/token",
            sandbox.salesforce_url()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"].as_str().expect("an access token");
    let userinfo: Value = client()
        .get(format!(
            "{}/services/oauth2/userinfo",
            sandbox.salesforce_url()
        ))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["user_id"], agent.id.as_str());
}

#[tokio::test]
async fn salesforce_refresh_token_route_rejects_bad_requests() {
    let sandbox = start().await;
    let url = format!("{}/_sandbox/salesforce/refresh-tokens", sandbox.base_url());

    let unknown = client()
        .post(&url)
        .json(&json!({ "username": "nobody@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("\"nobody@example.com\""), "{message}");
    assert!(message.contains("casey.agent@example.com"), "{message}");

    let no_username = client()
        .post(&url)
        .json(&json!({ "user": "casey.agent@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_username.status(), 400);
}
