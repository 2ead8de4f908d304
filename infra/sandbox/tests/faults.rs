//! Fault injection through the library API and `/_sandbox/faults`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tracker_sandbox::Fault;

#[tokio::test]
async fn retry_after_fault_fires_exactly_times() {
    let sandbox = start().await;
    sandbox.add_fault(Fault {
        tracker: Some("github".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/repos/acme/widgets/issues".to_owned()),
        status: 429,
        headers: vec![
            ("Retry-After".to_owned(), "2".to_owned()),
            ("x-ratelimit-remaining".to_owned(), "0".to_owned()),
        ],
        times: 2,
        ..Fault::default()
    });
    let url = format!("{}/repos/acme/widgets/issues", sandbox.github_url());

    let mut statuses = Vec::new();
    for attempt in 0..3 {
        let response = as_github(client().post(&url), &sandbox, GITHUB_BOT)
            .json(&json!({ "title": format!("attempt {attempt}") }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "2");
            assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
            assert_eq!(response.headers()["x-ratelimit-limit"], "5000");
            let body: Value = response.json().await.unwrap();
            assert!(body["message"].as_str().unwrap().contains("rate limit"));
        }
    }
    assert_eq!(statuses, [429, 429, 201]);

    let state = sandbox.state();
    assert_eq!(state.github.issues.len(), 1);
    assert_eq!(state.github.issues[0].title, "attempt 2");
    assert_eq!(
        sandbox.take_webhooks().len(),
        1,
        "failed writes record no webhook"
    );

    let requests = sandbox.requests();
    let logged: Vec<(u16, bool)> = requests.iter().map(|r| (r.status, r.fault)).collect();
    assert_eq!(logged, [(429, true), (429, true), (201, false)]);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/github/repos/acme/widgets/issues");
    assert_eq!(requests[0].tracker, "github");
    assert_eq!(requests[0].user_id.as_deref(), Some("41000001"));
}

#[tokio::test]
async fn fault_filters_by_method_and_path() {
    let sandbox = start().await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "faults").await;
    sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        method: Some("post".to_owned()),
        path_contains: Some("/comment".to_owned()),
        status: 503,
        ..Fault::default()
    });
    let issue_url = format!("{}/rest/api/3/issue/{key}", sandbox.jira_url());

    let get = as_jira(client().get(&issue_url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "GET does not match a POST fault");
    let listed = as_jira(
        client().get(format!("{issue_url}/comment")),
        &sandbox,
        JIRA_BOT,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        listed.status(),
        200,
        "GET on the comment path does not match either"
    );

    let post = as_jira(
        client().post(format!("{issue_url}/comment")),
        &sandbox,
        JIRA_BOT,
    )
    .json(&json!({ "body": adf("hello") }))
    .send()
    .await
    .unwrap();
    assert_eq!(post.status(), 503);
    let body: Value = post.json().await.unwrap();
    assert!(body["errorMessages"].is_array());
    assert_eq!(body["errors"], json!({}));
    assert!(sandbox.state().jira.comments.is_empty());
}

#[tokio::test]
async fn delay_only_fault_serves_normally() {
    let sandbox = start().await;
    sandbox.add_fault(Fault {
        tracker: Some("github".to_owned()),
        status: 0,
        delay_ms: 300,
        ..Fault::default()
    });
    let url = format!("{}/user", sandbox.github_url());
    let started = Instant::now();
    let response = as_github(client().get(&url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].fault);
    assert_eq!(requests[0].status, 200);

    let started = Instant::now();
    as_github(client().get(&url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "the delay was used up"
    );
}

#[tokio::test]
async fn custom_fault_body_is_returned() {
    let sandbox = start().await;
    sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        status: 400,
        body: Some(json!({ "errorMessages": ["custom"], "errors": {} })),
        ..Fault::default()
    });
    let url = format!("{}/rest/api/3/myself", sandbox.jira_url());
    let response = as_jira(client().get(url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorMessages"][0], "custom");
}

#[tokio::test]
async fn faults_over_http() {
    let sandbox = start().await;
    let faults_url = format!("{}/_sandbox/faults", sandbox.base_url());

    let response = client()
        .post(&faults_url)
        .json(&json!({ "tracker": "github", "path_contains": "/user", "status": 502 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["times"], 1, "times defaults to 1");

    let active: Value = client()
        .get(&faults_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(active.as_array().unwrap().len(), 1);

    let user_url = format!("{}/user", sandbox.github_url());
    let failed = as_github(client().get(&user_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 502);
    let ok = as_github(client().get(&user_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    client()
        .post(&faults_url)
        .json(&json!({ "status": 500, "times": 5 }))
        .send()
        .await
        .unwrap();
    let cleared = client().delete(&faults_url).send().await.unwrap();
    assert_eq!(cleared.status(), 204);
    let ok = as_github(client().get(&user_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let invalid = client()
        .post(&faults_url)
        .json(&json!({ "tracker": "gitlab", "status": 500 }))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    let body: Value = invalid.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("gitlab"));

    let missing_status = client()
        .post(&faults_url)
        .json(&json!({ "tracker": "jira" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_status.status(), 400);
}

#[tokio::test]
async fn fault_applies_without_credentials() {
    let sandbox = start().await;
    sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        status: 503,
        headers: vec![("Retry-After".to_owned(), "1".to_owned())],
        ..Fault::default()
    });
    let url = format!("{}/rest/api/3/myself", sandbox.jira_url());
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(sandbox.requests()[0].user_id, None);
}
