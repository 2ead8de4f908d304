//! Azure DevOps as a sync peer. Service hook payloads parse, and the proxy user's changes are
//! skipped by identity id, or by unique name when the id is absent. A sync with GitHub
//! converges both ways with stable HTML descriptions. Bad requests get a status that Azure
//! DevOps neither retries nor answers by disabling the subscription, and a failing target
//! parks the event.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use proxysync_core::config::Config;
use proxysync_core::explain::{ExplainContext, Explanation, SignatureCheck, explain};
use proxysync_core::model::{Instance, TrackerKind};
use proxysync_core::secrets::Secrets;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers::{self, azure_devops};
use proxysync_tests::Stack;
use proxysync_tests::peers::{call, endpoint, outcomes};
use proxysync_tests::tracker_sandbox::Fault;
use reqwest::Method;
use serde_json::{Map, Value, json};

const REPO: &str = "acme/secret-plans";
const PROJECT: &str = "Web Shop";
const HOOK_AUTH: &str = "hook:fixture-password";

const CONFIG: &str = r#"
instances:
  - id: gh
    tracker: github
    base_url: https://api.github.invalid
    secret: proxysync/gh
    proxy: { id: "41000001", name: sync-bot }
  - id: ado
    tracker: azure-devops
    base_url: https://dev.azure.invalid/example-org
    secret: proxysync/ado
    proxy: { id: "6f1c2b7a-0000-4000-8000-00000000a0ff", name: sync.proxy@example.com }
connections:
  - id: shop
    a: { instance: gh, project: octo-user/widgets }
    b: { instance: ado, project: ExampleProject }
"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = proxysync_tests::repo_root()
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn basic(credentials: &str) -> (String, String) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    ("authorization".to_owned(), format!("Basic {encoded}"))
}

async fn explain_body(body: Vec<u8>) -> Result<Explanation, String> {
    let config = Config::from_yaml(CONFIG).unwrap();
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/ado".to_owned(),
        json!({"token": "pat", "webhook_secret": HOOK_AUTH}),
    )]));
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let request = InboundRequest {
        headers: vec![basic(HOOK_AUTH)],
        body,
        ..InboundRequest::default()
    };
    explain(&cx, "azure-devops", "ado", &request).await
}

#[tokio::test]
async fn real_update_parses() {
    let explanation = explain_body(fixture("azure-devops-workitem-updated.json"))
        .await
        .unwrap();
    assert_eq!(explanation.signature, SignatureCheck::Valid);
    assert_eq!(explanation.event, "workitem.updated");
    let event = &explanation.events[0];
    assert_eq!(event.issue, "ExampleProject#13");
    assert_eq!(
        event.author,
        "Sample User (6f1c2b7a-0000-4000-8000-00000000a001)"
    );
    assert_eq!(event.decision, "sync");
    let body = event.requests[0].body.as_ref().unwrap();
    assert_eq!(body["title"], "Checkout button hidden");
    assert_eq!(
        body["body"],
        "The **checkout** button is hidden on small screens.\n\n- iPhone SE\n- Pixel 4a"
    );
    assert_eq!(body["labels"], json!(["mobile", "ui"]));
}

#[tokio::test]
async fn real_comment_parses() {
    let explanation = explain_body(fixture("azure-devops-workitem-commented.json"))
        .await
        .unwrap();
    let event = &explanation.events[0];
    assert_eq!(event.kind, "workitem.commented");
    // The payload has no identity id, so the author is its unique name.
    assert_eq!(event.author, "Sample User (sample.user@example.com)");
    assert!(!event.authored_by_proxy);
    assert!(event.reason.contains("no linked issue"), "{}", event.reason);
}

#[tokio::test]
async fn proxy_found_by_unique_name() {
    let body = String::from_utf8(fixture("azure-devops-workitem-commented.json"))
        .unwrap()
        .replace(
            "Sample User <sample.user@example.com>",
            "Sync Proxy <SYNC.PROXY@example.com>",
        );
    let explanation = explain_body(body.into_bytes()).await.unwrap();
    let event = &explanation.events[0];
    assert!(event.authored_by_proxy, "{event:?}");
    assert_eq!(event.decision, "skip");
}

#[tokio::test]
async fn display_name_only_rejected() {
    let error = explain_body(fixture("azure-devops-workitem-created.json"))
        .await
        .unwrap_err();
    assert!(error.contains("\"Erin Example\""), "{error}");
    assert!(
        error.contains("neither an identity id nor a unique name"),
        "{error}"
    );
}

async fn start() -> (Stack, Instance) {
    let stack = Stack::start().await;
    let config = stack.sandbox_config.azure_devops.clone();
    let proxy = &config.users[0];
    let instance = stack
        .add_instance(
            "acme-azure",
            TrackerKind::AzureDevops,
            stack.sandbox.azure_devops_url(),
            json!({"token": proxy.pat, "webhook_secret": config.hook_basic_auth}),
            Map::new(),
        )
        .await;
    stack
        .add_connection(
            "shop",
            endpoint("acme-github", REPO),
            endpoint("acme-azure", PROJECT),
        )
        .await;
    (stack, instance)
}

/// Calls the Azure DevOps sandbox as the developer Dave; `patch` bodies go as JSON Patch.
async fn as_dave(stack: &Stack, method: Method, path: &str, body: Value) -> Value {
    let dave = &stack.sandbox_config.azure_devops.users[1];
    let request = reqwest::Client::new()
        .request(
            method.clone(),
            format!("{}{path}", stack.sandbox.azure_devops_url()),
        )
        .basic_auth("", Some(&dave.pat));
    let (status, answer) = if method == Method::PATCH {
        let request = request
            .header("content-type", "application/json-patch+json")
            .body(body.to_string());
        call(request, None).await
    } else {
        call(request, Some(body)).await
    };
    assert!(
        status.is_success(),
        "Azure DevOps sandbox answered {status}: {answer}"
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_and_azure_devops_converge() {
    let (stack, instance) = start().await;
    let proxy = instance.proxy.clone().unwrap();
    assert_eq!(proxy.name, "proxysync-bot@acme.example");
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Cart total wrong", "body": "Totals are **off by one**.\n\n1. add two items\n2. open the cart", "labels": ["bug"]})),
        )
        .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(
        list.contains(&"github:synced:created".to_owned()),
        "{list:?}"
    );
    // The created event names the proxy by its unique name only.
    assert!(
        list.contains(&"azure-devops:skipped:proxy_author".to_owned()),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|o| o.starts_with("azure-devops:synced")),
        "{list:?}"
    );

    let state = stack.sandbox.azure_devops_state();
    assert_eq!(state.work_items.len(), 1);
    let item = state.work_items[0].clone();
    assert_eq!(item.title, "Cart total wrong");
    assert_eq!(item.tags, "bug");
    assert_eq!(item.created_by, proxy.id);
    assert!(
        item.description.contains("<strong>off by one</strong>"),
        "{}",
        item.description
    );
    assert!(item.description.contains("<ol>"), "{}", item.description);
    assert_eq!(item.hyperlinks.len(), 1);

    // A Dave edit on Azure DevOps reaches GitHub.
    let patch = json!([
        {"op": "add", "path": "/fields/System.Title", "value": "Cart total wrong by one"},
        {"op": "add", "path": "/fields/System.Description", "value": "<div>Totals are <b>off by one</b> in <i>EUR</i>.</div>"},
    ]);
    as_dave(
        &stack,
        Method::PATCH,
        &format!("/_apis/wit/workitems/{}?api-version=7.1", item.id),
        patch,
    )
    .await;
    let comment = json!({"text": "<div>Seen in <code>v2.3</code> too.</div>"});
    let comments = format!(
        "/Web%20Shop/_apis/wit/workItems/{}/comments?api-version=7.1-preview.4",
        item.id
    );
    as_dave(&stack, Method::POST, &comments, comment).await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(
        list.contains(&"azure-devops:synced:updated".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"azure-devops:synced:comment_added".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"azure-devops:ignored".to_owned()),
        "{list:?}"
    );
    let github = stack.sandbox.state().github;
    let issue = github
        .issues
        .iter()
        .find(|i| i.repo == REPO)
        .unwrap()
        .clone();
    assert_eq!(issue.title, "Cart total wrong by one");
    assert_eq!(
        issue.body.as_deref(),
        Some("Totals are **off by one** in _EUR_.")
    );
    let mirrored = github
        .comments
        .iter()
        .find(|c| c.body.contains("Seen in `v2.3` too."))
        .expect("the Azure DevOps comment on GitHub");
    assert!(
        mirrored.body.contains("Dave Developer"),
        "{}",
        mirrored.body
    );

    // A GitHub edit reaches Azure DevOps. Its description, sent back unchanged by someone
    // else, writes nothing: the HTML round trip keeps the Markdown.
    let number = issue.number;
    let human = stack.human();
    human
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{number}"),
            Some(json!({"body": "Totals are **off by one**.\n\n- in EUR\n- in `USD`"})),
        )
        .await;
    let edited = stack.sandbox.take_webhooks().remove(0);
    let answer = stack.deliver_any(&edited).await;
    assert_eq!(
        answer.body["events"][0]["action"], "updated",
        "{}",
        answer.body
    );
    let echoed = stack.sandbox.take_webhooks().remove(0);
    let answer = stack.deliver_any(&echoed).await;
    assert_eq!(
        answer.body["events"][0]["reason"], "proxy_author",
        "{}",
        answer.body
    );
    let dave = &stack.sandbox_config.azure_devops.users[1];
    let body = String::from_utf8(echoed.body.clone()).unwrap().replace(
        &format!("\"id\":\"{}\"", proxy.id),
        &format!("\"id\":\"{}\"", dave.id),
    );
    assert!(body.contains(&dave.id));
    let request = InboundRequest {
        headers: echoed.headers.clone(),
        body: body.into_bytes(),
        ..InboundRequest::default()
    };
    let answer = stack
        .deliver_request("azure-devops", "acme-azure", request)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["events"][0]["reason"], "echo",
        "{}",
        answer.body
    );
    assert!(stack.sandbox.take_webhooks().is_empty());

    // A GitHub comment and closing reach Azure DevOps, and nothing echoes back.
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": "Fixed in `v2.4`."})),
        )
        .await;
    human
        .github(
            Method::PATCH,
            &format!("/repos/{REPO}/issues/{number}"),
            Some(json!({"state": "closed"})),
        )
        .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(
        list.contains(&"github:synced:comment_added".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"github:synced:updated".to_owned()),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|o| o.starts_with("azure-devops:synced")),
        "{list:?}"
    );
    let state = stack.sandbox.azure_devops_state();
    assert_eq!(state.work_items[0].state, "Closed");
    let note = state
        .comments
        .iter()
        .find(|c| c.text.contains("<code>v2.4</code>"))
        .expect("the GitHub comment on Azure DevOps");
    assert_eq!(note.created_by, proxy.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_rejected() {
    let (stack, _) = start().await;
    let good = basic(&stack.sandbox_config.azure_devops.hook_basic_auth);
    let body = fixture("azure-devops-workitem-updated.json");
    let no_identity = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"revisedBy\"", "\"revisedByX\"")
        .replace("Sample User <sample.user@example.com>", "Sample User")
        .into_bytes();
    let cases = [
        (
            "no authorization",
            vec![],
            body.clone(),
            401,
            "missing_signature",
        ),
        (
            "wrong password",
            vec![basic("proxysync-hook:nope")],
            body.clone(),
            401,
            "bad_signature",
        ),
        (
            "not JSON",
            vec![good.clone()],
            b"{".to_vec(),
            400,
            "malformed",
        ),
        (
            "no resource",
            vec![good.clone()],
            br#"{"eventType":"workitem.updated","id":"x"}"#.to_vec(),
            400,
            "malformed",
        ),
        (
            "no identity",
            vec![good.clone()],
            no_identity,
            400,
            "malformed",
        ),
    ];
    for (name, headers, body, status, code) in cases {
        let before = stack.count_items("").await;
        let request = InboundRequest {
            headers,
            body,
            ..InboundRequest::default()
        };
        let answer = stack
            .deliver_request("azure-devops", "acme-azure", request)
            .await;
        assert_eq!(answer.status, status, "{name}: {}", answer.body);
        assert_eq!(answer.body["error"], code, "{name}: {}", answer.body);
        // 410 would disable the subscription, and 408/502/503/504 would be retried.
        assert!(
            ![408, 410, 502, 503, 504].contains(&answer.status),
            "{name}"
        );
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_header_replaces_basic_auth() {
    let (stack, _) = start().await;
    let proxy = &stack.sandbox_config.azure_devops.users[0];
    let mut options = Map::new();
    options.insert(
        azure_devops::HEADER_OPTION.to_owned(),
        json!("X-Sync-Secret"),
    );
    stack
        .add_instance(
            "header-azure",
            TrackerKind::AzureDevops,
            stack.sandbox.azure_devops_url(),
            json!({"token": proxy.pat, "webhook_secret": "header-secret-0123456789"}),
            options,
        )
        .await;
    let body = fixture("azure-devops-workitem-updated.json");
    for (value, status) in [
        ("header-secret-0123456789", 200),
        ("header-secret-0123456780", 401),
    ] {
        let request = InboundRequest {
            headers: vec![("x-sync-secret".to_owned(), value.to_owned())],
            body: body.clone(),
            ..InboundRequest::default()
        };
        let answer = stack
            .deliver_request("azure-devops", "header-azure", request)
            .await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_fault_parks_event() {
    let (stack, _) = start().await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("azure-devops".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/_apis/wit/workitems/$".to_owned()),
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
    assert!(stack.sandbox.azure_devops_state().work_items.is_empty());

    stack.sandbox.clear_faults();
    let report = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .expect("replay");
    assert_eq!(report.replayed, 1, "{report:?}");
    assert_eq!(stack.sandbox.azure_devops_state().work_items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_checks_administrators() {
    let (stack, instance) = start().await;
    let module = trackers::module(TrackerKind::AzureDevops).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut with_project = instance.clone();
    with_project
        .options
        .insert("projects".to_owned(), json!([PROJECT]));
    let api = stack
        .pipeline
        .api(&with_project, deadline, false)
        .await
        .unwrap();
    let checks = module.target().preflight(&api, &with_project).await;
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|check| check.ok), "{checks:#?}");

    let dave = &stack.sandbox_config.azure_devops.users[1];
    let mut dave_instance = stack
        .add_instance(
            "dave-azure",
            TrackerKind::AzureDevops,
            stack.sandbox.azure_devops_url(),
            json!({"token": dave.pat, "webhook_secret": "x"}),
            Map::new(),
        )
        .await;
    dave_instance
        .options
        .insert("projects".to_owned(), json!([PROJECT]));
    let api = stack
        .pipeline
        .api(&dave_instance, deadline, false)
        .await
        .unwrap();
    let checks = module.target().preflight(&api, &dave_instance).await;
    let names: Vec<&str> = checks
        .iter()
        .filter(|check| !check.ok)
        .map(|check| check.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "member of Project Collection Administrators",
            "Project Administrator in Web Shop"
        ]
    );
}

#[tokio::test]
async fn sample_events_verify() {
    let yaml = CONFIG.replace("ExampleProject", "Web Shop").replace(
        "proxy: { id: \"6f1c2b7a-0000-4000-8000-00000000a0ff\", name: sync.proxy@example.com }",
        "proxy: { id: \"00000000-0000-4000-8000-0000000ad001\", name: proxysync-bot@acme.example }",
    );
    let config = Config::from_yaml(&yaml).unwrap();
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/ado".to_owned(),
        json!({"token": "pat", "webhook_secret": "proxysync-hook:sandbox-azure-devops-hook-password"}),
    )]));
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let events = proxysync_tests::repo_root().join("events/azure-devops");
    for (name, proxy) in [
        ("workitem.created", false),
        ("workitem.commented.by-proxy", true),
        ("workitem.updated", false),
    ] {
        let read = |ext: &str| std::fs::read(events.join(format!("{name}.{ext}"))).unwrap();
        let headers = String::from_utf8(read("headers")).unwrap();
        let request = InboundRequest {
            headers: proxysync_core::explain::parse_headers(&headers),
            body: read("json"),
            ..InboundRequest::default()
        };
        let explanation = explain(&cx, "azure-devops", "ado", &request)
            .await
            .expect("explain");
        assert_eq!(explanation.signature, SignatureCheck::Valid, "{name}");
        assert_eq!(explanation.events.len(), 1, "{name}");
        assert_eq!(explanation.events[0].authored_by_proxy, proxy, "{name}");
    }
}
