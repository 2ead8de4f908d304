//! The operator commands (`instance`, `connection`, `doctor` and `parked`), run as the built
//! binary against moto's server and the tracker sandbox.

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

/// Runs `instance add` for a GitHub instance on the sandbox with the extra arguments `extra`.
async fn add_github(stack: &Stack, id: &str, secret: &str, extra: &[&str]) -> Run {
    let github_url = stack.sandbox.github_url();
    let mut args = vec![
        "instance",
        "add",
        "--id",
        id,
        "--tracker",
        "github",
        "--base-url",
        &github_url,
        "--secret",
        secret,
    ];
    args.extend_from_slice(extra);
    proxysync(stack, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_add_rejects_bad_options() {
    let stack = Stack::start().await;
    let secret = stack.github_secret_id.clone();

    let unknown = add_github(&stack, "gh-typo", &secret, &["--option", "hook_idd=5"]).await;
    assert_eq!(unknown.code, 1, "{}{}", unknown.stdout, unknown.stderr);
    assert!(
        unknown.stderr.contains("unknown option \"hook_idd\""),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("instance \"gh-typo\""),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("hook_id, hook_repo, hooks"),
        "{}",
        unknown.stderr
    );

    let wrong_type = add_github(
        &stack,
        "gh-typo",
        &secret,
        &["--option", "hook_id=notanumber"],
    )
    .await;
    assert_eq!(wrong_type.code, 1, "{}", wrong_type.stdout);
    assert!(
        wrong_type.stderr.contains("hook_id=\"notanumber\""),
        "{}",
        wrong_type.stderr
    );
    assert!(
        wrong_type.stderr.contains("expected a numeric id"),
        "{}",
        wrong_type.stderr
    );

    let config = stack.store.load_config().await.unwrap();
    assert!(config.instance("gh-typo").is_none());

    let valid = add_github(
        &stack,
        "gh-hook",
        &secret,
        &["--option", "hook_id=12345678"],
    )
    .await;
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
}

/// Stores `value` as a new secret named after the stack's table and `suffix`, and returns its id.
async fn create_secret(stack: &Stack, suffix: &str, value: serde_json::Value) -> String {
    let secret = format!("proxysync/{}-{suffix}", stack.table);
    stack
        .secrets_client
        .create_secret()
        .name(&secret)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create secret");
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_add_shows_secret_shape() {
    let stack = Stack::start().await;
    let example = "A github secret is a JSON object such as {\"token\"";

    let wrong_type = create_secret(
        &stack,
        "wrong-type",
        json!({"token": 5, "webhook_secret": "w"}),
    )
    .await;
    let run = add_github(&stack, "gh-wrong-type", &wrong_type, &[]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&wrong_type), "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid type: integer `5`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(example), "{}", run.stderr);
    assert!(!run.stderr.contains("email"), "{}", run.stderr);

    let missing = create_secret(&stack, "missing-field", json!({"webhook_secret": "w"})).await;
    let run = add_github(&stack, "gh-missing-field", &missing, &[]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&missing), "{}", run.stderr);
    assert!(
        run.stderr.contains("the secret has no \"token\" field"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(example), "{}", run.stderr);

    let config = stack.store.load_config().await.unwrap();
    assert!(config.instance("gh-wrong-type").is_none());
    assert!(config.instance("gh-missing-field").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_list_says_when_empty() {
    let stack = Stack::start().await;
    let table = format!("{}-empty", stack.table);
    let created = proxysync(&stack, &["--table", &table, "create-table"]).await;
    assert_eq!(created.code, 0, "{}", created.stderr);

    let run = proxysync(&stack, &["--table", &table, "instance", "list"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("no instances in table {table}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("proxysync instance add"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_names_fix() {
    let stack = Stack::start().await;
    let table = format!("{}-missing", stack.table);
    let run = proxysync(&stack, &["--table", &table, "instance", "list"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("DynamoDB table {table} does not exist")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("PROXYSYNC_TABLE"), "{}", run.stderr);
    assert!(
        run.stderr.contains("proxysync create-table"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SAM stack"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("ResourceNotFoundException").count(),
        1,
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_apply_counts_one() {
    let stack = Stack::start().await;
    let file = std::env::temp_dir().join(format!("{}-one-connection.yaml", stack.table));
    std::fs::write(
        &file,
        format!(
            "connections:\n  - id: widgets\n    a: {{ instance: acme-github, project: {REPO} }}\n    \
             b: {{ instance: acme-jira, project: SUP }}\n"
        ),
    )
    .unwrap();
    let run = proxysync(
        &stack,
        &["connection", "apply", &file.display().to_string()],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("1 connection applied;"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_apply_tab_names_line() {
    let stack = Stack::start().await;
    let file = std::env::temp_dir().join(format!("{}-tab.yaml", stack.table));
    std::fs::write(
        &file,
        format!(
            "connections:\n\t- id: widgets\n    a: {{ instance: acme-github, project: {REPO} }}\n"
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let run = proxysync(&stack, &["connection", "apply", &path]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(&format!("invalid configuration in {path}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 2, column 1"), "{}", run.stderr);
    assert!(run.stderr.contains("indent with spaces"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_add_rejects_remote_http() {
    let stack = Stack::start().await;
    let secret = stack.github_secret_id.clone();
    let run = proxysync(
        &stack,
        &[
            "instance",
            "add",
            "--id",
            "gh-plain",
            "--tracker",
            "github",
            "--base-url",
            "http://tracker.example",
            "--secret",
            &secret,
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("instance \"gh-plain\" has base_url \"http://tracker.example\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("use https://HOST"), "{}", run.stderr);
    assert!(run.stderr.contains("loopback"), "{}", run.stderr);
    let config = stack.store.load_config().await.unwrap();
    assert!(config.instance("gh-plain").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_show_names_delivery() {
    let stack = Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1200),
        ..StackOptions::default()
    })
    .await;
    // A second connection of the same repository gives one delivery two events. Only the last
    // one completes the delivery's claim and stores its key.
    let mut second = stack.config.connections[0].clone();
    second.id = "widgets-help".to_owned();
    second.b.project = "HELP".to_owned();
    stack.store.put_connection(&second).await.unwrap();
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
            Some(json!({"title": "Two connections"})),
        )
        .await;
    for webhook in stack.sandbox.take_webhooks() {
        stack.deliver(&webhook).await;
    }
    let parked = stack.store.list_parked().await.unwrap();
    assert_eq!(parked.len(), 2, "{parked:#?}");

    let with_key = parked
        .iter()
        .find(|p| !p.delivery_key.is_empty())
        .expect("the last event stores the delivery key");
    let delivery_id = with_key.delivery_key.rsplit('#').next().unwrap();
    let run = proxysync(&stack, &["parked", "show", &with_key.id]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("delivery: {delivery_id}\n")),
        "{}",
        run.stdout
    );

    let without_key = parked
        .iter()
        .find(|p| p.delivery_key.is_empty())
        .expect("the first event stores no delivery key");
    let run = proxysync(&stack, &["parked", "show", &without_key.id]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("delivery: none recorded"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("\"delivery_key\": \"\""),
        "{}",
        run.stdout
    );
}
