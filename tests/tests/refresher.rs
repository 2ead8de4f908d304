//! The token refresher against the sandbox's `/oauth_token.do` and moto's server: due tokens
//! refreshed into new secret versions, rotation, leases, rejected credentials and faults.

mod servicenow_common;

use std::time::Duration;

use proxysync_core::model::Instance;
use proxysync_core::oauth::{Outcome, RunReport, TokenRefresher};
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Lease;
use proxysync_tests::Stack;
use proxysync_tests::tracker_sandbox::Fault;
use serde_json::json;
use servicenow_common::*;

fn secrets(stack: &Stack) -> Secrets {
    Secrets::aws(stack.secrets_client.clone(), Duration::ZERO)
}

async fn run(stack: &Stack) -> RunReport {
    let config = stack.store.load_config().await.unwrap();
    let secrets = secrets(stack);
    let http = proxysync_core::lambda::http_client().unwrap();
    TokenRefresher::new(&stack.store, &secrets, &http, settings())
        .run(&config)
        .await
        .expect("refresher run")
}

fn outcome(report: &RunReport, instance: &str) -> Outcome {
    report
        .instances
        .iter()
        .find(|r| r.instance == instance)
        .unwrap_or_else(|| panic!("no report for {instance}: {report:#?}"))
        .outcome
        .clone()
}

async fn oauth_instance(stack: &Stack, id: &str, expires_in: i64) -> (Instance, String) {
    add_instance(stack, id, SignIn::OAuth { expires_in }).await
}

#[tokio::test]
async fn due_token_refreshed_into_a_new_version() {
    let stack = Stack::start().await;
    let (_, secret_id) = oauth_instance(&stack, "snow-due", 120).await;
    let (before, version) = read_secret(&stack, &secret_id).await;

    let report = run(&stack).await;
    assert_eq!(
        outcome(&report, "snow-due"),
        Outcome::Refreshed { rotated: false }
    );
    let (after, new_version) = read_secret(&stack, &secret_id).await;
    assert_ne!(version, new_version);
    assert_ne!(before["access_token"], after["access_token"]);
    assert!(after["access_token_expires_at"].as_i64().unwrap() > now() + 1700);
    assert_eq!(before["refresh_token"], after["refresh_token"]);
    assert_eq!(before["webhook_secret"], after["webhook_secret"]);
    let control = stack.sandbox.servicenow();
    assert!(control.access_token_valid(after["access_token"].as_str().unwrap()));
    // A reader still holding the old token keeps working until that token's own expiry.
    assert!(control.access_token_valid(before["access_token"].as_str().unwrap()));

    let previous = stack
        .secrets_client
        .get_secret_value()
        .secret_id(&secret_id)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .unwrap();
    assert_eq!(previous.version_id(), Some(version.as_str()));
    assert!(report.min_access_seconds_left().unwrap() > 1700);
    assert_eq!(report.refreshed(), 1);
}

#[tokio::test]
async fn fresh_token_left_alone() {
    let stack = Stack::start().await;
    let (_, secret_id) = oauth_instance(&stack, "snow-fresh", 3600).await;
    let (_, version) = read_secret(&stack, &secret_id).await;
    let report = run(&stack).await;
    assert_eq!(outcome(&report, "snow-fresh"), Outcome::Fresh);
    assert_eq!(token_calls(&stack), 0);
    assert_eq!(read_secret(&stack, &secret_id).await.1, version);
    assert_eq!(report.skipped(), 1);
}

#[tokio::test]
async fn basic_instances_are_not_refreshed() {
    let stack = Stack::start().await;
    add_instance(&stack, "snow-basic", SignIn::Basic).await;
    let report = run(&stack).await;
    assert_eq!(outcome(&report, "snow-basic"), Outcome::NotOAuth);
    assert_eq!(report.min_access_seconds_left(), None);
}

#[tokio::test]
async fn rotated_refresh_token_stored_and_used_next() {
    let stack = Stack::start().await;
    stack.sandbox.servicenow().set_rotation(true);
    let (_, secret_id) = oauth_instance(&stack, "snow-rotate", 60).await;
    let (before, _) = read_secret(&stack, &secret_id).await;

    let report = run(&stack).await;
    assert_eq!(
        outcome(&report, "snow-rotate"),
        Outcome::Refreshed { rotated: true }
    );
    let (after, _) = read_secret(&stack, &secret_id).await;
    assert_ne!(before["refresh_token"], after["refresh_token"]);

    // The stored token works for the next refresh, which retires the old one.
    stack.sandbox.servicenow().set_access_token_lifetime(60);
    let secrets = secrets(&stack);
    let http = proxysync_core::lambda::http_client().unwrap();
    let config = stack.store.load_config().await.unwrap();
    let instance = config.instance("snow-rotate").unwrap();
    let refresher = TokenRefresher::new(&stack.store, &secrets, &http, settings());
    refresher.refresh_now(instance).await.unwrap();
    let (third, _) = read_secret(&stack, &secret_id).await;
    assert_ne!(after["refresh_token"], third["refresh_token"]);
    assert_eq!(token_calls(&stack), 2);
}

#[tokio::test]
async fn concurrent_runs_make_one_token_call_per_instance() {
    let stack = Stack::start().await;
    stack.sandbox.servicenow().set_rotation(true);
    stack.sandbox.servicenow().set_token_latency_ms(200);
    for index in 0..6 {
        oauth_instance(&stack, &format!("snow-{index}"), 30).await;
    }
    let (first, second) = tokio::join!(run(&stack), run(&stack));
    assert_eq!(token_calls(&stack), 6);
    assert_eq!(first.refreshed() + second.refreshed(), 6);
    assert_eq!(first.failed() + second.failed(), 0);

    // Another run finds every token fresh.
    let third = run(&stack).await;
    assert_eq!(third.refreshed(), 0);
    assert_eq!(token_calls(&stack), 6);
}

#[tokio::test]
async fn invalid_grant_marks_until_secret_changes() {
    let stack = Stack::start().await;
    let (_, secret_id) = oauth_instance(&stack, "snow-revoked", 60).await;
    let (_, healthy) = oauth_instance(&stack, "snow-healthy", 60).await;
    let (_, version) = read_secret(&stack, &secret_id).await;
    let (value, _) = read_secret(&stack, &healthy).await;
    // Revoke only the first instance's token by replacing the second's afterwards.
    stack
        .sandbox
        .servicenow()
        .revoke_refresh_tokens("proxysync.bot");
    let fresh = oauth_secret(&stack, 60);
    let mut healthy_value = value.clone();
    healthy_value["refresh_token"] = fresh["refresh_token"].clone();
    put_value(&stack, &healthy, &healthy_value).await;

    let report = run(&stack).await;
    let Outcome::Rejected { error } = outcome(&report, "snow-revoked") else {
        panic!("expected a rejection: {report:#?}");
    };
    assert!(error.contains("invalid_grant"), "{error}");
    assert_eq!(
        outcome(&report, "snow-healthy"),
        Outcome::Refreshed { rotated: false }
    );
    let marks = stack.store.list_needs_operator().await.unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].instance, "snow-revoked");
    assert_eq!(marks[0].secret_version, version);
    assert_eq!(report.needs_operator(), 1);
    let calls = token_calls(&stack);

    // Later runs do not call the tracker again with the rejected token.
    let report = run(&stack).await;
    assert_eq!(outcome(&report, "snow-revoked"), Outcome::NeedsOperator);
    assert_eq!(token_calls(&stack), calls);

    // An operator stores new credentials: the next run uses them and clears the mark.
    let replacement = oauth_secret(&stack, 60);
    put_value(&stack, &secret_id, &replacement).await;
    let report = run(&stack).await;
    assert_eq!(
        outcome(&report, "snow-revoked"),
        Outcome::Refreshed { rotated: false }
    );
    assert!(stack.store.list_needs_operator().await.unwrap().is_empty());
}

async fn put_value(stack: &Stack, secret_id: &str, value: &serde_json::Value) {
    stack
        .secrets_client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn one_broken_instance_does_not_stop_the_others() {
    let stack = Stack::start().await;
    let (_, good) = oauth_instance(&stack, "snow-good", 60).await;
    let (_, not_json) = oauth_instance(&stack, "snow-not-json", 60).await;
    let (_, lacking) = oauth_instance(&stack, "snow-lacking", 60).await;
    stack
        .secrets_client
        .put_secret_value()
        .secret_id(&not_json)
        .secret_string("{not json")
        .send()
        .await
        .unwrap();
    let (mut value, _) = read_secret(&stack, &lacking).await;
    let secret_value = value["client_secret"].as_str().unwrap().to_owned();
    value.as_object_mut().unwrap().remove("client_id");
    put_value(&stack, &lacking, &value).await;

    let report = run(&stack).await;
    assert_eq!(
        outcome(&report, "snow-good"),
        Outcome::Refreshed { rotated: false }
    );
    let Outcome::Failed { error } = outcome(&report, "snow-not-json") else {
        panic!("{report:#?}");
    };
    assert!(
        error.contains(&not_json) && error.contains("not JSON"),
        "{error}"
    );
    let Outcome::Failed { error } = outcome(&report, "snow-lacking") else {
        panic!("{report:#?}");
    };
    assert!(
        error.contains("client_id") && error.contains(&lacking),
        "{error}"
    );
    assert!(!error.contains(&secret_value), "{error}");
    assert_eq!(report.failed(), 2);
    assert!(
        read_secret(&stack, &good).await.0["access_token_expires_at"].as_i64() > Some(now() + 1000)
    );
}

#[tokio::test]
async fn token_endpoint_faults_fail_without_marking() {
    let stack = Stack::start().await;
    let (_, secret_id) = oauth_instance(&stack, "snow-faults", 60).await;
    let (_, version) = read_secret(&stack, &secret_id).await;
    let faults = [
        Fault {
            status: 500,
            ..Fault::default()
        },
        // Longer than the test's 2 s request timeout.
        Fault {
            status: 0,
            delay_ms: 3_000,
            ..Fault::default()
        },
        Fault {
            status: 200,
            body: Some(json!({"token_type": "Bearer", "expires_in": 1799})),
            ..Fault::default()
        },
        Fault {
            status: 200,
            body: Some(json!({"access_token": "abc", "token_type": "Bearer"})),
            ..Fault::default()
        },
    ];
    let expected = ["500", "unreachable", "no access_token", "no expires_in"];
    for (fault, expected) in faults.into_iter().zip(expected) {
        stack.sandbox.add_fault(Fault {
            tracker: Some("servicenow".to_owned()),
            path_contains: Some("/oauth_token.do".to_owned()),
            ..fault
        });
        let report = run(&stack).await;
        let Outcome::Failed { error } = outcome(&report, "snow-faults") else {
            panic!("{expected}: {report:#?}");
        };
        assert!(error.contains(expected), "{expected}: {error}");
        assert_eq!(read_secret(&stack, &secret_id).await.1, version);
        assert!(stack.store.list_needs_operator().await.unwrap().is_empty());
    }

    // A 401 from the token endpoint means the client credentials are wrong: an operator's job.
    stack.sandbox.add_fault(Fault {
        tracker: Some("servicenow".to_owned()),
        path_contains: Some("/oauth_token.do".to_owned()),
        status: 401,
        body: Some(json!({"error_description": "access_denied", "error": "server_error"})),
        ..Fault::default()
    });
    let report = run(&stack).await;
    assert!(matches!(
        outcome(&report, "snow-faults"),
        Outcome::Rejected { .. }
    ));

    // Without faults the lease of the failed runs is free again.
    put_value(&stack, &secret_id, &oauth_secret(&stack, 60)).await;
    let report = run(&stack).await;
    assert_eq!(
        outcome(&report, "snow-faults"),
        Outcome::Refreshed { rotated: false }
    );
}

#[tokio::test]
async fn held_and_expired_leases() {
    let stack = Stack::start().await;
    oauth_instance(&stack, "snow-leased", 60).await;
    let lease = stack
        .store
        .acquire_lease("oauth#snow-leased", "another-invocation", 60_000)
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Held { .. }));
    let report = run(&stack).await;
    assert_eq!(outcome(&report, "snow-leased"), Outcome::Busy);
    assert_eq!(token_calls(&stack), 0);

    // A holder that died leaves an expired lease behind; TTL has not deleted it yet.
    stack
        .store
        .acquire_lease("oauth#snow-stale", "dead-invocation", -1_000)
        .await
        .unwrap();
    oauth_instance(&stack, "snow-stale", 60).await;
    let report = run(&stack).await;
    assert_eq!(
        outcome(&report, "snow-stale"),
        Outcome::Refreshed { rotated: false }
    );
    assert_eq!(outcome(&report, "snow-leased"), Outcome::Busy);
}

#[tokio::test]
async fn refresher_killed_after_the_token_call_recovers() {
    let stack = Stack::start().await;
    stack.sandbox.servicenow().set_rotation(true);
    let (_, secret_id) = oauth_instance(&stack, "snow-killed", 60).await;
    let (before, _) = read_secret(&stack, &secret_id).await;
    stack.sandbox.servicenow().set_token_latency_ms(1_000);

    // The tracker issues the tokens, then the invocation dies before it reads the response.
    let config = stack.store.load_config().await.unwrap();
    let secrets = secrets(&stack);
    let http = proxysync_core::lambda::http_client().unwrap();
    let mut short = settings();
    short.lease = Duration::from_millis(500);
    let refresher = TokenRefresher::new(&stack.store, &secrets, &http, short.clone());
    let killed = tokio::time::timeout(Duration::from_millis(400), refresher.run(&config)).await;
    assert!(killed.is_err(), "the run should have been cut short");
    assert_eq!(token_calls(&stack), 1);
    assert_eq!(read_secret(&stack, &secret_id).await.0, before);

    // The next run takes over the expired lease and refreshes with the stored token.
    stack.sandbox.servicenow().set_token_latency_ms(0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let refresher = TokenRefresher::new(&stack.store, &secrets, &http, short);
    let report = refresher.run(&config).await.unwrap();
    assert_eq!(
        outcome(&report, "snow-killed"),
        Outcome::Refreshed { rotated: true }
    );
}

#[tokio::test]
async fn expiring_refresh_token_warned_in_metrics() {
    let stack = Stack::start().await;
    let (_, secret_id) = oauth_instance(&stack, "snow-aging", 3600).await;
    let (mut value, _) = read_secret(&stack, &secret_id).await;
    value["refresh_token_expires_at"] = json!(now() + 3 * 86_400);
    put_value(&stack, &secret_id, &value).await;

    let report = run(&stack).await;
    assert_eq!(report.expiring_soon, 1);
    let emf = report.emf("proxysync-test");
    assert_eq!(emf["RefreshTokensExpiringSoon"], 1);
    assert!(emf["MinRefreshTokenSecondsLeft"].as_i64().unwrap() < 3 * 86_400 + 5);
    assert!(emf["MinAccessTokenSecondsLeft"].as_i64().unwrap() > 3000);
    let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in [
        "TokensRefreshed",
        "TokenRefreshesFailed",
        "TokenRefreshesSkipped",
        "MinAccessTokenSecondsLeft",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[tokio::test]
async fn webhook_path_waits_for_a_running_refresh() {
    let stack = Stack::start().await;
    let (instance, secret_id) = oauth_instance(&stack, "snow-race", 1800).await;
    let (before, _) = read_secret(&stack, &secret_id).await;
    stack.sandbox.servicenow().set_token_latency_ms(500);
    stack.sandbox.servicenow().expire_access_tokens();

    // Two webhook invocations see 401 at once: one refreshes, the other waits for its token.
    let secrets_a = secrets(&stack);
    let secrets_b = secrets(&stack);
    let http = proxysync_core::lambda::http_client().unwrap();
    let a = TokenRefresher::new(&stack.store, &secrets_a, &http, settings());
    let b = TokenRefresher::new(&stack.store, &secrets_b, &http, settings());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let failed = before["access_token"].as_str();
    let (first, second) = tokio::join!(
        a.refresh_rejected(&instance, failed, deadline),
        b.refresh_rejected(&instance, failed, deadline)
    );
    assert_eq!(first, Ok(true));
    assert_eq!(second, Ok(true));
    assert_eq!(token_calls(&stack), 1);
}
