//! `proxysync doctor` and `proxysync parked show`, run as the built binary against moto's
//! server and the tracker sandbox.

use std::time::Duration;

use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{REPO, Stack, StackOptions, moto_endpoint};
use reqwest::Method;
use serde_json::{Value, json};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn proxysync(stack: &Stack, args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_proxysync"))
        .args(args)
        .env("PROXYSYNC_TABLE", &stack.table)
        .env("AWS_ENDPOINT_URL", moto_endpoint().await)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .await
        .expect("run the proxysync binary");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Returns the check named `name` of `instance` from `doctor --json` output.
fn find_check(reports: &Value, instance: &str, name: &str) -> Value {
    let report = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["instance"] == instance)
        .unwrap_or_else(|| panic!("no report for {instance}: {reports:#}"));
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no check {name:?} for {instance}: {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_sandbox_instances() {
    let stack = Stack::start().await;
    let run = proxysync(&stack, &["doctor", "--json"]).await;
    let reports: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));

    for (instance, name) in [
        ("acme-github", "credentials"),
        ("acme-github", "proxy identity"),
        ("acme-github", "scope repo"),
        ("acme-github", "webhook secret"),
        ("acme-jira", "credentials"),
        ("acme-jira", "proxy identity"),
        ("acme-jira", "permission EDIT_ISSUES in project SUP"),
        ("acme-jira", "permission LINK_ISSUES in project SUP"),
    ] {
        let check = find_check(&reports, instance, name);
        assert_eq!(check["ok"], true, "{instance} {name}: {check}");
    }
    let expiry = find_check(&reports, "acme-github", "token expiry");
    assert!(
        expiry["detail"].as_str().unwrap().contains("days"),
        "{expiry}"
    );

    let table = proxysync(&stack, &["doctor"]).await;
    assert!(table.stdout.starts_with("INSTANCE"), "{}", table.stdout);
    assert!(table.stdout.contains("scope repo"), "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_on_missing_permissions() {
    let stack = Stack::start().await;
    let github_proxy = &stack.sandbox_config.github.users[0];
    let jira_proxy = &stack.sandbox_config.jira.users[0];
    stack
        .sandbox
        .set_github_scopes(&github_proxy.login, "gist, read:org");
    stack
        .sandbox
        .deny_jira_permission(&jira_proxy.account_id, "TRANSITION_ISSUES");
    // The stored proxy identity no longer matches the credentials.
    let mut config = stack.store.load_config().await.unwrap();
    let jira = config
        .instances
        .iter_mut()
        .find(|i| i.id == "acme-jira")
        .unwrap();
    jira.proxy.as_mut().unwrap().id = "557058:someone-else".to_owned();
    stack.store.put_instance(jira).await.unwrap();

    let run = proxysync(&stack, &["doctor", "--json"]).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    let reports: Value = serde_json::from_str(&run.stdout).unwrap();
    let scope = find_check(&reports, "acme-github", "scope repo");
    assert_eq!(scope["ok"], false, "{scope}");
    assert!(scope["detail"].as_str().unwrap().contains("needs repo"));
    let transition = find_check(
        &reports,
        "acme-jira",
        "permission TRANSITION_ISSUES in project SUP",
    );
    assert_eq!(transition["ok"], false, "{transition}");
    assert!(
        transition["detail"]
            .as_str()
            .unwrap()
            .contains("Transition Issues")
    );
    let browse = find_check(
        &reports,
        "acme-jira",
        "permission BROWSE_PROJECTS in project SUP",
    );
    assert_eq!(browse["ok"], true, "{browse}");
    let identity = find_check(&reports, "acme-jira", "proxy identity");
    assert_eq!(identity["ok"], false, "{identity}");

    let table = proxysync(&stack, &["doctor"]).await;
    assert_ne!(table.code, 0);
    assert!(table.stdout.contains("MISSING"), "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_show_explains_error() {
    let stack = Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1200),
        ..StackOptions::default()
    })
    .await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("jira".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/rest/api/3/issue".to_owned()),
        status: 401,
        headers: vec![],
        body: None,
        times: 1000,
        delay_ms: 0,
    });
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Revoked token"})),
        )
        .await;
    for webhook in stack.sandbox.take_webhooks() {
        stack.deliver(&webhook).await;
    }
    let parked = stack.store.list_parked().await.unwrap();
    assert_eq!(parked.len(), 1);

    let run = proxysync(&stack, &["parked", "show", &parked[0].id]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("refused the proxy credentials (401)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "Replace the token in secret {}",
            stack.jira_secret_id
        )),
        "{}",
        run.stdout
    );

    let missing = proxysync(&stack, &["parked", "show", "nope"]).await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("proxysync parked list"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_add_keeps_tracker_kind() {
    let stack = Stack::start().await;
    let jira_url = stack.sandbox.jira_url();
    let run = proxysync(
        &stack,
        &[
            "instance",
            "add",
            "--id",
            "acme-github",
            "--tracker",
            "jira-cloud",
            "--base-url",
            &jira_url,
            "--secret",
            &stack.jira_secret_id,
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("acme-github is already registered as a github instance"),
        "{}",
        run.stderr
    );
    let config = stack.store.load_config().await.unwrap();
    let kept = config.instance("acme-github").unwrap();
    assert_eq!(kept.tracker.as_str(), "github");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_remove_deletes_once() {
    let stack = Stack::start().await;
    let run = proxysync(&stack, &["connection", "remove", "widgets"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("connection widgets removed"));
    let config = stack.store.load_config().await.unwrap();
    assert!(config.connections.iter().all(|c| c.id != "widgets"));

    let again = proxysync(&stack, &["connection", "remove", "widgets"]).await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("unknown connection \"widgets\""),
        "{}",
        again.stderr
    );
}
