//! `proxysync explain --config --secrets` run as the built binary on the sample Outbound
//! Message in `events/salesforce`, whose token travels in the endpoint URL's query string.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

const CONFIG: &str = r#"
instances:
  - id: gh
    tracker: github
    base_url: https://api.github.invalid
    secret: proxysync/gh
    proxy: { id: "41000001", name: proxysync-bot }
  - id: sf
    tracker: salesforce
    base_url: https://acme.my.salesforce.invalid
    secret: proxysync/sf
    proxy: { id: 005000000000001AAA, name: sync.proxy@example.com }
    options: { organization_id: 00D000000000042AAA }
connections:
  - id: cases
    a: { instance: sf, project: Case }
    b: { instance: gh, project: acme/widgets }
"#;
const TOKEN: &str = "sandbox-salesforce-endpoint-token-0123456789";

/// Writes the configuration `config_text` and the secrets file into a fresh folder and returns their
/// paths.
fn files(config_text: &str) -> (PathBuf, PathBuf) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let run = NEXT.fetch_add(1, Ordering::Relaxed);
    let folder =
        std::env::temp_dir().join(format!("proxysync-explain-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let config = folder.join("proxysync.yaml");
    std::fs::write(&config, config_text).unwrap();
    let secrets = folder.join("secrets.json");
    let values = json!({
        "proxysync/gh": {"token": "t", "webhook_secret": "w"},
        "proxysync/sf": {"client_id": "c", "client_secret": "s", "refresh_token": "r",
                         "access_token": "a", "webhook_secret": TOKEN},
    });
    std::fs::write(&secrets, values.to_string()).unwrap();
    (config, secrets)
}

async fn explain(extra: &[&str]) -> (i32, String, String) {
    explain_with(CONFIG, "salesforce", extra).await
}

/// Runs `explain` on the sample Outbound Message with the configuration `config_text` and
/// `--tracker tracker`.
async fn explain_with(config_text: &str, tracker: &str, extra: &[&str]) -> (i32, String, String) {
    let (config, secrets) = files(config_text);
    let events = proxysync_tests::repo_root().join("events/salesforce");
    let mut args = vec![
        "explain".to_owned(),
        "--tracker".to_owned(),
        tracker.to_owned(),
        "--instance".to_owned(),
        "sf".to_owned(),
        "--headers".to_owned(),
        events.join("case.updated.headers").display().to_string(),
        "--body".to_owned(),
        events.join("case.updated.xml").display().to_string(),
        "--config".to_owned(),
        config.display().to_string(),
        "--secrets".to_owned(),
        secrets.display().to_string(),
        "--json".to_owned(),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_proxysync"))
        .args(&args)
        .output()
        .await
        .expect("run the proxysync binary");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn query_token_verifies_outbound_message() {
    let token = format!("token={TOKEN}");
    let (code, stdout, stderr) = explain(&["--query", &token]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let explanation: Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(explanation["signature"], "valid", "{explanation:#}");
    let event = &explanation["events"][0];
    assert_eq!(event["decision"], "sync", "{explanation:#}");
    assert_eq!(event["requests"][0]["path"], "/repos/acme/widgets/issues");
}

#[tokio::test]
async fn missing_or_wrong_token_rejected() {
    for extra in [vec![], vec!["--query", "token=not-the-token"]] {
        let (code, stdout, stderr) = explain(&extra).await;
        assert_eq!(code, 1, "{extra:?}: {stdout}\n{stderr}");
        let explanation: Value = serde_json::from_str(&stdout).expect("JSON output");
        assert_eq!(explanation["signature"], "invalid", "{extra:?}");
        assert_eq!(explanation["events"][0]["decision"], "reject", "{extra:?}");
    }
}

#[tokio::test]
async fn query_without_equals_named() {
    let (code, _, stderr) = explain(&["--query", "token"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("\"token\""), "{stderr}");
    assert!(stderr.contains("NAME=VALUE"), "{stderr}");
}

#[tokio::test]
async fn unknown_tracker_lists_routes_and_kinds() {
    let (code, _, stderr) = explain_with(CONFIG, "gitlab", &[]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("\"gitlab\""), "{stderr}");
    assert!(
        stderr.contains("github, jira, azure-devops, servicenow, zendesk, salesforce"),
        "{stderr}"
    );
    assert!(stderr.contains("jira-cloud, jira-dc"), "{stderr}");
}

#[tokio::test]
async fn config_unknown_option_named() {
    let config = CONFIG.replace(
        "proxy: { id: \"41000001\", name: proxysync-bot }",
        "proxy: { id: \"41000001\", name: proxysync-bot }\n    options: { hook_idd: 5 }",
    );
    assert_ne!(config, CONFIG);
    let (code, _, stderr) = explain_with(&config, "salesforce", &[]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("unknown option \"hook_idd\""), "{stderr}");
    assert!(stderr.contains("instance \"gh\""), "{stderr}");
    assert!(stderr.contains("hook_id, hook_repo, hooks"), "{stderr}");
}

#[tokio::test]
async fn config_tab_names_file_and_line() {
    let config = CONFIG.replace("  - id: sf", "\t- id: sf");
    assert_ne!(config, CONFIG);
    let (code, _, stderr) = explain_with(&config, "salesforce", &[]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("proxysync.yaml"), "{stderr}");
    assert!(stderr.contains("line 8, column 1"), "{stderr}");
    assert!(stderr.contains("indent with spaces"), "{stderr}");
}
