//! Jira Data Center as a sync peer: its real webhook shapes parse, the proxy user's changes
//! are skipped, a sync with GitHub converges both ways, bad requests are rejected, and a
//! failing target parks the event.

use std::collections::HashMap;
use std::time::Duration;

use proxysync_core::config::Config;
use proxysync_core::explain::{ExplainContext, SignatureCheck, explain};
use proxysync_core::model::{Instance, TrackerKind};
use proxysync_core::secrets::Secrets;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers::signature::sign_hex_hmac;
use proxysync_core::trackers::{self, jira_dc};
use proxysync_tests::Stack;
use proxysync_tests::peers::{call, endpoint, outcomes};
use proxysync_tests::tracker_sandbox::Fault;
use reqwest::Method;
use serde_json::{Map, Value, json};

const REPO: &str = "acme/secret-plans";
const PROJECT: &str = "OPS";

const CONFIG: &str = r#"
instances:
  - id: gh
    tracker: github
    base_url: https://api.github.invalid
    secret: proxysync/gh
    proxy: { id: "41000001", name: sync-bot }
  - id: dc
    tracker: jira-dc
    base_url: https://jira.example.invalid
    secret: proxysync/dc
    proxy: { id: "JIRAUSER10100", name: Sync Bot }
connections:
  - id: web
    a: { instance: gh, project: octo-user/widgets }
    b: { instance: dc, project: WEB }
"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = proxysync_tests::repo_root()
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

async fn explain_fixture(
    name: &str,
    query: &[(&str, &str)],
) -> proxysync_core::explain::Explanation {
    let config = Config::from_yaml(CONFIG).unwrap();
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/dc".to_owned(),
        json!({"token": "pat", "webhook_secret": "url-token-0123456789"}),
    )]));
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let request = InboundRequest {
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: fixture(name),
        ..InboundRequest::default()
    };
    explain(&cx, "jira", "dc", &request).await.expect("explain")
}

#[tokio::test]
async fn server_issue_update_parses() {
    let explanation = explain_fixture(
        "jira-dc-issue-updated.json",
        &[("token", "url-token-0123456789")],
    )
    .await;
    assert_eq!(explanation.signature, SignatureCheck::Valid);
    assert_eq!(explanation.event, "jira:issue_updated");
    assert_eq!(explanation.events.len(), 1);
    let event = &explanation.events[0];
    assert_eq!(event.issue, "WEB-9768");
    assert_eq!(event.author, "Rita Reporter (JIRAUSER62307)");
    assert!(!event.authored_by_proxy);
    assert_eq!(event.decision, "sync");
    let create = &event.requests[0];
    assert_eq!(create.path, "/repos/octo-user/widgets/issues");
    let body = create.body.as_ref().unwrap()["body"].as_str().unwrap();
    assert!(body.contains("**Environment:**"), "{body}");
    assert!(body.contains("1. Open the form"), "{body}");
}

#[tokio::test]
async fn server_comment_in_issue_update_parses() {
    let explanation = explain_fixture(
        "jira-dc-issue-commented.json",
        &[("token", "url-token-0123456789")],
    )
    .await;
    assert_eq!(explanation.signature, SignatureCheck::Valid);
    assert_eq!(explanation.events.len(), 1);
    let event = &explanation.events[0];
    assert_eq!(event.kind, "jira:issue_updated");
    assert_eq!(event.author, "Quinn Tester (JIRAUSER62376)");
    // No link is stored offline, so the comment has no issue to go to yet.
    assert_eq!(event.decision, "skip");
    assert!(event.reason.contains("no linked issue"), "{}", event.reason);
}

#[tokio::test]
async fn server_comment_event_ignored() {
    let explanation = explain_fixture("jira-dc-comment-created.json", &[]).await;
    assert_eq!(explanation.event, "comment_created");
    assert!(explanation.events.is_empty());
    let reason = explanation.ignored.expect("ignored");
    assert!(reason.contains("carry the issue"), "{reason}");
}

/// Starts a stack with a Jira Data Center instance connected to the GitHub repository.
async fn start() -> (Stack, Instance) {
    let stack = Stack::start().await;
    let config = stack.sandbox_config.jira_dc.clone();
    let proxy = &config.users[0];
    let instance = stack
        .add_instance(
            "acme-jira-dc",
            TrackerKind::JiraDc,
            stack.sandbox.jira_dc_url(),
            json!({"token": proxy.token, "webhook_secret": config.webhook_secret}),
            Map::new(),
        )
        .await;
    stack
        .add_connection(
            "plans",
            endpoint("acme-github", REPO),
            endpoint("acme-jira-dc", PROJECT),
        )
        .await;
    (stack, instance)
}

/// Calls the Jira Data Center sandbox as the human user, with Basic name:password.
async fn as_bob(stack: &Stack, method: Method, path: &str, body: Option<Value>) -> Value {
    let bob = &stack.sandbox_config.jira_dc.users[1];
    let request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.sandbox.jira_dc_url()))
        .basic_auth(&bob.name, Some(&bob.password));
    let (status, answer) = call(request, body).await;
    assert!(
        status.is_success(),
        "Jira DC sandbox answered {status}: {answer}"
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_and_jira_dc_converge() {
    let (stack, instance) = start().await;
    assert_eq!(instance.proxy.as_ref().unwrap().id, "JIRAUSER10100");
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Disk fills up", "body": "Logs grow **fast**.\n\n- rotate\n- compress"})),
        )
        .await;
    let answers = stack.pump_any_until_quiet(6).await;
    let list = outcomes(&answers);
    assert!(
        list.contains(&"github:synced:created".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"jira-dc:skipped:proxy_author".to_owned()),
        "{list:?}"
    );

    let state = stack.sandbox.jira_dc_state();
    assert_eq!(state.issues.len(), 1);
    let issue = state.issues[0].clone();
    assert_eq!(issue.key, "OPS-1");
    assert_eq!(issue.creator_key, "JIRAUSER10100");
    let description = issue.description.clone().unwrap_or_default();
    assert!(description.contains("*fast*"), "{description}");
    assert!(description.contains("* rotate"), "{description}");
    assert_eq!(state.remote_links.len(), 1);

    // An edit and a comment on Jira Data Center reach GitHub.
    let path = format!("/rest/api/2/issue/{}", issue.key);
    let edit = json!({"fields": {"summary": "Disk fills up on node 3", "description": "Logs grow *fast* on node 3."}});
    as_bob(&stack, Method::PUT, &path, Some(edit)).await;
    let comment = json!({"body": "Seen again at {{02:00}}."});
    as_bob(
        &stack,
        Method::POST,
        &format!("{path}/comment"),
        Some(comment),
    )
    .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(
        list.contains(&"jira-dc:synced:updated".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"jira-dc:synced:comment_added".to_owned()),
        "{list:?}"
    );
    assert!(list.contains(&"jira-dc:ignored".to_owned()), "{list:?}");

    let github = stack.sandbox.state().github;
    let gh_issue = github.issues.iter().find(|i| i.repo == REPO).unwrap();
    assert_eq!(gh_issue.title, "Disk fills up on node 3");
    assert_eq!(
        gh_issue.body.as_deref(),
        Some("Logs grow **fast** on node 3.")
    );
    let mirrored = github
        .comments
        .iter()
        .find(|c| c.body.contains("Seen again at `02:00`."));
    let mirrored = mirrored.expect("the Jira DC comment on GitHub");
    assert!(mirrored.body.contains("Bob Example"), "{}", mirrored.body);

    // A GitHub comment and closing reach Jira Data Center, and nothing echoes back.
    let number = gh_issue.number;
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": "Fixed by the new `logrotate` rule."})),
        )
        .await;
    stack
        .human()
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{number}"),
            Some(json!({"state": "closed"})),
        )
        .await;
    let answers = stack.pump_any_until_quiet(6).await;
    let list = outcomes(&answers);
    assert!(
        list.contains(&"github:synced:comment_added".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"github:synced:updated".to_owned()),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|o| o.starts_with("jira-dc:synced")),
        "{list:?}"
    );

    let state = stack.sandbox.jira_dc_state();
    assert_eq!(state.issues[0].status, "Done");
    let comment = state
        .comments
        .iter()
        .find(|c| c.body.contains("{{logrotate}}"))
        .expect("the GitHub comment on Jira DC");
    assert_eq!(comment.author_key, "JIRAUSER10100");
}

/// A rejected request: name, headers, query, body, status and error code.
type BadCase = (
    &'static str,
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_rejected() {
    let (stack, _) = start().await;
    let secret = stack.sandbox_config.jira_dc.webhook_secret.clone();
    let body = fixture("jira-dc-issue-updated.json");
    let cases: Vec<BadCase> = vec![
        ("no signature", vec![], vec![], body.clone(), 401, "missing_signature"),
        (
            "wrong signature",
            vec![("X-Hub-Signature".into(), sign_hex_hmac("wrong", &body))],
            vec![],
            body.clone(),
            401,
            "bad_signature",
        ),
        (
            "wrong token",
            vec![],
            vec![("token".into(), "not-the-token".into())],
            body.clone(),
            401,
            "bad_signature",
        ),
        (
            "not JSON",
            vec![],
            vec![("token".into(), secret.clone())],
            b"<html/>".to_vec(),
            400,
            "malformed",
        ),
        (
            "no user key",
            vec![],
            vec![("token".into(), secret.clone())],
            br#"{"webhookEvent":"jira:issue_created","timestamp":1,"user":{"name":"x"},"issue":{"id":"1","key":"OPS-1","self":"https://j/rest/api/2/issue/1","fields":{"project":{"key":"OPS"}}}}"#.to_vec(),
            400,
            "malformed",
        ),
    ];
    for (name, headers, query, body, status, code) in cases {
        let before = stack.count_items("").await;
        let request = InboundRequest {
            headers,
            query,
            body,
        };
        let answer = stack.deliver_request("jira", "acme-jira-dc", request).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.body);
        assert_eq!(answer.body["error"], code, "{name}: {}", answer.body);
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{name}: {message:?}"
        );
        assert_eq!(
            stack.count_items("").await,
            before,
            "{name} wrote to the table"
        );
    }
    assert!(stack.sandbox.state().github.issues.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_token_accepted_unsigned() {
    let (stack, _) = start().await;
    let secret = stack.sandbox_config.jira_dc.webhook_secret.clone();
    let body = String::from_utf8(fixture("jira-dc-issue-updated.json"))
        .unwrap()
        .replace("\"WEB\"", "\"OPS\"")
        .replace("WEB-9768", "OPS-9768");
    let request = InboundRequest {
        query: vec![("token".to_owned(), secret)],
        body: body.into_bytes(),
        ..InboundRequest::default()
    };
    let answer = stack.deliver_request("jira", "acme-jira-dc", request).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["events"][0]["action"], "created",
        "{}",
        answer.body
    );
    let github = stack.sandbox.state().github;
    let created = github.issues.iter().find(|i| i.repo == REPO).unwrap();
    assert_eq!(created.title, "Feedback form accepts a blank name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_fault_parks_event() {
    let (stack, _) = start().await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("jira-dc".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/rest/api/2/issue".to_owned()),
        status: 503,
        times: 100,
        ..Fault::default()
    });
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Parked on the way"})),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    let answer = stack.deliver_any(&webhook).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["events"][0]["decision"], "parked");
    assert!(stack.sandbox.jira_dc_state().issues.is_empty());

    stack.sandbox.clear_faults();
    let report = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .expect("replay");
    assert_eq!(report.replayed, 1, "{report:?}");
    assert_eq!(stack.sandbox.jira_dc_state().issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_missing_permission() {
    let (stack, instance) = start().await;
    let module = trackers::module(TrackerKind::JiraDc).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);

    let mut with_projects = instance.clone();
    with_projects
        .options
        .insert("projects".to_owned(), json!([PROJECT, "HELP"]));
    let api = stack
        .pipeline
        .api(&with_projects, deadline, false)
        .await
        .unwrap();
    let checks = module.target().preflight(&api, &with_projects).await;
    assert_eq!(checks.len(), 2 * (jira_dc::REQUIRED_PERMISSIONS.len() + 1));
    assert!(checks.iter().all(|check| check.ok), "{checks:#?}");
    let agent = checks
        .iter()
        .find(|check| check.name == "service desk agent in HELP")
        .unwrap();
    assert_eq!(agent.detail, "the proxy user is an agent");

    // Bob lacks DELETE_OWN_WORKLOGS in the sandbox configuration.
    let bob = &stack.sandbox_config.jira_dc.users[1];
    let bob_instance = stack
        .add_instance(
            "bob-jira-dc",
            TrackerKind::JiraDc,
            stack.sandbox.jira_dc_url(),
            json!({"username": bob.name, "password": bob.password, "webhook_secret": "x"}),
            Map::new(),
        )
        .await;
    let api = stack
        .pipeline
        .api(&bob_instance, deadline, false)
        .await
        .unwrap();
    let checks = module.target().preflight(&api, &bob_instance).await;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|check| !check.ok)
        .map(|check| check.name.as_str())
        .collect();
    assert_eq!(failed, vec!["permission DELETE_OWN_WORKLOGS"]);
    let detail = &checks.iter().find(|check| !check.ok).unwrap().detail;
    assert!(detail.contains("permission scheme"), "{detail}");
}

#[tokio::test]
async fn sample_events_verify() {
    let config = Config::from_yaml(CONFIG).unwrap();
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/dc".to_owned(),
        json!({"token": "pat", "webhook_secret": "sandbox-jira-dc-webhook-secret"}),
    )]));
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let events = proxysync_tests::repo_root().join("events/jira-dc");
    for (name, proxy) in [
        ("issue_created", false),
        ("issue_commented", false),
        ("issue_commented.by-proxy", true),
    ] {
        let read = |ext: &str| std::fs::read(events.join(format!("{name}.{ext}"))).unwrap();
        let headers = String::from_utf8(read("headers")).unwrap();
        let request = InboundRequest {
            headers: proxysync_core::explain::parse_headers(&headers),
            body: read("json"),
            ..InboundRequest::default()
        };
        let explanation = explain(&cx, "jira", "dc", &request).await.expect("explain");
        assert_eq!(explanation.signature, SignatureCheck::Valid, "{name}");
        assert_eq!(explanation.events.len(), 1, "{name}");
        assert_eq!(explanation.events[0].authored_by_proxy, proxy, "{name}");
    }
}
