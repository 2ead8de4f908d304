//! Payloads shaped like real GitHub and Jira Cloud deliveries parse, and
//! `explain` decides on them offline (no AWS, no tracker calls).

use std::collections::HashMap;

use proxysync_core::config::Config;
use proxysync_core::explain::{ExplainContext, Explanation, SignatureCheck, explain};
use proxysync_core::secrets::Secrets;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers::signature::sign_hex_hmac;
use serde_json::json;

const CONFIG: &str = r#"
instances:
  - id: gh
    tracker: github
    base_url: https://api.github.invalid
    secret: proxysync/gh
    proxy: { id: "41000001", name: sync-bot }
  - id: jira
    tracker: jira-cloud
    base_url: https://acme.atlassian.invalid
    secret: proxysync/jira
    proxy: { id: "557058:00000000-0000-4000-8000-000000000001", name: Sync Bot }
connections:
  - id: widgets
    a: { instance: gh, project: octo-user/widgets }
    b: { instance: jira, project: SUP }
"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = proxysync_tests::repo_root()
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

async fn run(
    route: &str,
    instance: &str,
    headers: Vec<(&str, &str)>,
    body: Vec<u8>,
    secrets: Secrets,
) -> Explanation {
    let config = Config::from_yaml(CONFIG).unwrap();
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let request = InboundRequest {
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        body,
        ..Default::default()
    };
    explain(&cx, route, instance, &request)
        .await
        .expect("explain")
}

fn no_secrets() -> Secrets {
    Secrets::fixed(HashMap::new())
}

#[tokio::test]
async fn github_edit_plans_jira_create() {
    let headers = vec![("x-github-event", "issues"), ("x-github-delivery", "d1")];
    let explanation = run(
        "github",
        "gh",
        headers,
        fixture("github-issues-edited.json"),
        no_secrets(),
    )
    .await;

    assert_eq!(explanation.signature, SignatureCheck::NotChecked);
    assert_eq!(explanation.event, "issues.edited");
    let event = &explanation.events[0];
    assert_eq!(event.issue, "octo-user/widgets#1");
    assert!(!event.authored_by_proxy);
    assert_eq!(event.decision, "sync");
    assert_eq!(event.requests[0].method, "POST");
    assert_eq!(event.requests[0].path, "/rest/api/3/issue");
    let body = event.requests[0].body.clone().unwrap();
    assert_eq!(
        body["fields"]["summary"],
        "Spelling error in the README file"
    );
    assert_eq!(body["fields"]["project"]["key"], "SUP");
    assert_eq!(body["fields"]["description"]["type"], "doc");
}

#[tokio::test]
async fn github_signature_checked_with_secret() {
    let body = fixture("github-issue-comment-created.json");
    let signature = sign_hex_hmac("hook-secret", &body);
    let headers = vec![
        ("x-github-event", "issue_comment"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/gh".to_owned(),
        json!({"token": "t", "webhook_secret": "hook-secret"}),
    )]));
    let explanation = run("github", "gh", headers, body, secrets).await;

    assert_eq!(explanation.signature, SignatureCheck::Valid);
    assert_eq!(explanation.event, "issue_comment.created");
    let event = &explanation.events[0];
    // No link is known offline, and a comment cannot create the issue.
    assert_eq!(event.decision, "skip");
    assert!(event.reason.contains("no linked issue"), "{}", event.reason);
}

#[tokio::test]
async fn github_labeled_carries_label() {
    let headers = vec![("x-github-event", "issues")];
    let explanation = run(
        "github",
        "gh",
        headers,
        fixture("github-issues-labeled.json"),
        no_secrets(),
    )
    .await;
    assert_eq!(explanation.event, "issues.labeled");
    let create = explanation.events[0].requests[0].body.clone().unwrap();
    assert_eq!(create["fields"]["labels"], json!(["bug"]));
}

#[tokio::test]
async fn jira_description_change_plans_github_create() {
    let headers = vec![("x-atlassian-webhook-identifier", "w1")];
    let explanation = run(
        "jira",
        "jira",
        headers,
        fixture("jira-issue-updated-description.json"),
        no_secrets(),
    )
    .await;

    assert_eq!(explanation.event, "jira:issue_updated");
    let event = &explanation.events[0];
    assert_eq!(event.issue, "SUP-22");
    assert_eq!(event.decision, "sync");
    assert_eq!(event.requests[0].path, "/repos/octo-user/widgets/issues");
    let body = event.requests[0].body.clone().unwrap();
    assert_eq!(body["title"], "Add back button to pages");
    assert!(
        body["body"].as_str().unwrap().contains("back button"),
        "{body}"
    );
}

#[tokio::test]
async fn jira_comment_by_proxy_skipped() {
    let explanation = run(
        "jira",
        "jira",
        vec![],
        fixture("jira-comment-created.json"),
        no_secrets(),
    )
    .await;
    let event = &explanation.events[0];
    assert!(event.authored_by_proxy);
    assert_eq!(event.decision, "skip");
    assert!(event.requests.is_empty());
}

#[tokio::test]
async fn jira_comment_deleted_parses() {
    let explanation = run(
        "jira",
        "jira",
        vec![],
        fixture("jira-comment-deleted.json"),
        no_secrets(),
    )
    .await;
    assert_eq!(explanation.event, "comment_deleted");
    assert_eq!(explanation.events[0].kind, "comment_deleted");
    assert_eq!(explanation.events[0].issue, "SUP-141");
}

#[tokio::test]
async fn jira_created_plans_create() {
    let explanation = run(
        "jira",
        "jira",
        vec![],
        fixture("jira-issue-created.json"),
        no_secrets(),
    )
    .await;
    let event = &explanation.events[0];
    assert_eq!(event.decision, "sync");
    assert_eq!(event.requests[0].method, "POST");
}
