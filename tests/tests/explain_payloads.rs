//! `explain` on the sample webhooks in `events/`, as `proxysync explain --config --secrets`
//! runs it with the demo secrets the samples were signed with. A person's event plans a write
//! on the connected tracker, a proxy user's own event is skipped as the proxy's, and a bad
//! signature or token is rejected. Comment events need a stored link, so they are explained once without
//! DynamoDB (skipped) and once with a link in moto's table (synced to the linked issue).
//!
//! HP ALM/QC is not covered: it sends no webhooks (the `alm-poller` function reads it), so it
//! has no route, no samples and nothing for `explain` to decide on.

use std::collections::HashMap;

use proxysync_core::config::Config;
use proxysync_core::explain::{
    EventPlan, ExplainContext, Explanation, SignatureCheck, explain, parse_headers,
};
use proxysync_core::model::IssueRef;
use proxysync_core::secrets::Secrets;
use proxysync_core::store::{Commit, LinkWrite, Store};
use proxysync_core::sync::SkipReason;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers;
use proxysync_tests::Stack;
use serde_json::{Value, json};

/// The demo instances, with the proxy identities the sandbox reports, and one connection per
/// sample route so that each route's events have a single target.
const CONFIG: &str = r#"
instances:
  - id: gh
    tracker: github
    base_url: https://api.github.invalid
    secret: proxysync/gh
    proxy: { id: "41000001", name: proxysync-bot }
  - id: jira
    tracker: jira-cloud
    base_url: https://acme.atlassian.invalid
    secret: proxysync/jira
    proxy: { id: "712020:00000000-0000-4000-8000-0000000000b0", name: ProxySync Bot }
  - id: dc
    tracker: jira-dc
    base_url: https://jira.acme.invalid
    secret: proxysync/dc
    proxy: { id: JIRAUSER10100, name: proxysync }
  - id: snow
    tracker: servicenow
    base_url: https://acme.service-now.invalid
    secret: proxysync/snow
    proxy: { id: 6816f79cc0a8016401c5a33be04be441, name: proxysync.bot }
  - id: zd
    tracker: zendesk
    base_url: https://acme.zendesk.invalid
    secret: proxysync/zd
    proxy: { id: "9001000001", name: ProxySync Bot }
    # The samples were signed once, so the allowed age is stretched past their timestamp.
    options: { signature_max_age_secs: 3000000000 }
  - id: ado
    tracker: azure-devops
    base_url: https://dev.azure.invalid/acme
    secret: proxysync/ado
    proxy: { id: 00000000-0000-4000-8000-0000000ad001, name: proxysync-bot@acme.example }
  - id: sf
    tracker: salesforce
    base_url: https://acme.my.salesforce.invalid
    secret: proxysync/sf
    proxy: { id: 005000000000001AAA, name: sync.proxy@example.com }
    options: { organization_id: 00D000000000042AAA, sobject_types: [Case, CaseComment] }
connections:
  - id: widgets
    a: { instance: gh, project: acme/widgets }
    b: { instance: jira, project: SUP }
  - id: backups
    a: { instance: dc, project: OPS }
    b: { instance: snow, project: incident }
  - id: shop
    a: { instance: ado, project: Web Shop }
    b: { instance: zd, project: "360001" }
  - id: cases
    a: { instance: sf, project: Case }
    b: { instance: gh, project: acme/secret-plans }
"#;

/// The token of the Salesforce endpoint URL, which Outbound Messages carry in the query.
const SALESFORCE_TOKEN: &str = "sandbox-salesforce-endpoint-token-0123456789";

/// Returns the secrets the samples were signed with (`infra/local` and the sandbox's demo
/// settings).
fn demo_secrets() -> HashMap<String, Value> {
    HashMap::from([
        (
            "proxysync/gh".to_owned(),
            json!({"token": "t", "webhook_secret": "sandbox-github-webhook-secret"}),
        ),
        (
            "proxysync/jira".to_owned(),
            json!({"email": "e", "api_token": "t", "webhook_secret": "sandbox-jira-webhook-secret"}),
        ),
        (
            "proxysync/dc".to_owned(),
            json!({"token": "t", "webhook_secret": "sandbox-jira-dc-webhook-secret"}),
        ),
        (
            "proxysync/snow".to_owned(),
            json!({"username": "u", "password": "p", "webhook_secret": "sandbox-servicenow-webhook-secret"}),
        ),
        (
            "proxysync/zd".to_owned(),
            json!({"email": "e", "api_token": "t", "webhook_secret": "sandbox-zendesk-signing-secret"}),
        ),
        (
            "proxysync/ado".to_owned(),
            json!({"token": "t", "webhook_secret": "proxysync-hook:sandbox-azure-devops-hook-password"}),
        ),
        (
            "proxysync/sf".to_owned(),
            json!({"client_id": "c", "client_secret": "s", "refresh_token": "r", "access_token": "a",
                   "webhook_secret": SALESFORCE_TOKEN}),
        ),
    ])
}

/// One sample webhook: its folder under `events/`, file stem, and the route and instance it
/// is delivered to.
#[derive(Clone, Copy, Debug)]
struct Sample {
    folder: &'static str,
    name: &'static str,
    route: &'static str,
    instance: &'static str,
}

const fn sample(
    folder: &'static str,
    name: &'static str,
    route: &'static str,
    instance: &'static str,
) -> Sample {
    Sample {
        folder,
        name,
        route,
        instance,
    }
}

/// Every sample in `events/`, except the scheduled event, which is no webhook.
const SAMPLES: [Sample; 17] = [
    sample("github", "issues.opened", "github", "gh"),
    sample("github", "issue_comment.created", "github", "gh"),
    sample("jira", "comment_created", "jira", "jira"),
    sample("jira", "issue_created.by-proxy", "jira", "jira"),
    sample("jira-dc", "issue_created", "jira", "dc"),
    sample("jira-dc", "issue_commented", "jira", "dc"),
    sample("jira-dc", "issue_commented.by-proxy", "jira", "dc"),
    sample("servicenow", "incident.created", "servicenow", "snow"),
    sample("servicenow", "incident.commented", "servicenow", "snow"),
    sample("zendesk", "ticket.created", "zendesk", "zd"),
    sample("zendesk", "trigger.comment_added", "zendesk", "zd"),
    sample("zendesk", "ticket.comment_added.by-proxy", "zendesk", "zd"),
    sample("azure-devops", "workitem.created", "azure-devops", "ado"),
    sample("azure-devops", "workitem.updated", "azure-devops", "ado"),
    sample(
        "azure-devops",
        "workitem.commented.by-proxy",
        "azure-devops",
        "ado",
    ),
    sample("salesforce", "case.updated", "salesforce", "sf"),
    sample("salesforce", "case.updated.by-proxy", "salesforce", "sf"),
];

impl Sample {
    /// Reads the sample's headers and body. Salesforce's token goes in the query string.
    fn request(&self) -> InboundRequest {
        let folder = proxysync_tests::repo_root()
            .join("events")
            .join(self.folder);
        let read = |file: String| {
            let path = folder.join(file);
            std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        };
        let extension = if self.folder == "salesforce" {
            "xml"
        } else {
            "json"
        };
        let headers = String::from_utf8(read(format!("{}.headers", self.name))).unwrap();
        let query = if self.folder == "salesforce" {
            vec![("token".to_owned(), SALESFORCE_TOKEN.to_owned())]
        } else {
            Vec::new()
        };
        InboundRequest {
            headers: parse_headers(&headers),
            query,
            body: read(format!("{}.{extension}", self.name)),
        }
    }

    fn find(folder: &str, name: &str) -> Sample {
        *SAMPLES
            .iter()
            .find(|s| s.folder == folder && s.name == name)
            .unwrap_or_else(|| panic!("no sample {folder}/{name}"))
    }
}

async fn run_explain(
    config: &Config,
    secrets: HashMap<String, Value>,
    store: Option<&Store>,
    sample: Sample,
    request: &InboundRequest,
) -> Explanation {
    let secrets = Secrets::fixed(secrets);
    let cx = ExplainContext {
        config,
        secrets: &secrets,
        store,
        http: reqwest::Client::new(),
    };
    explain(&cx, sample.route, sample.instance, request)
        .await
        .unwrap_or_else(|e| panic!("explain {sample:?}: {e}"))
}

/// Explains a sample offline with the demo configuration and secrets.
async fn explain_sample(sample: Sample) -> Explanation {
    let config = Config::from_yaml(CONFIG).unwrap();
    run_explain(&config, demo_secrets(), None, sample, &sample.request()).await
}

fn only_event(explanation: &Explanation, sample: Sample) -> EventPlan {
    assert_eq!(
        explanation.events.len(),
        1,
        "{sample:?}: {:#?}",
        explanation.events
    );
    explanation.events[0].clone()
}

#[tokio::test]
async fn person_events_plan_create_on_target() {
    // Sample, connection, the create request on the target, and the title it carries.
    let cases = [
        (
            Sample::find("github", "issues.opened"),
            "widgets",
            "/rest/api/3/issue",
            "Export fails for large files",
        ),
        (
            Sample::find("jira-dc", "issue_created"),
            "backups",
            "/api/now/table/incident",
            "Nightly backup fails",
        ),
        (
            Sample::find("servicenow", "incident.created"),
            "backups",
            "/rest/api/2/issue",
            "VPN drops every hour",
        ),
        (
            Sample::find("zendesk", "ticket.created"),
            "shop",
            "/_apis/wit/workitems/$Task",
            "Printer jams",
        ),
        (
            Sample::find("azure-devops", "workitem.created"),
            "shop",
            "/api/v2/tickets",
            "Cart total wrong",
        ),
        (
            Sample::find("azure-devops", "workitem.updated"),
            "shop",
            "/api/v2/tickets",
            "Cart total wrong",
        ),
        (
            Sample::find("salesforce", "case.updated"),
            "cases",
            "/repos/acme/secret-plans/issues",
            "Sign-in fails after password step",
        ),
    ];
    for (sample, connection, path, title) in cases {
        let explanation = explain_sample(sample).await;
        assert_eq!(
            explanation.signature,
            SignatureCheck::Valid,
            "{sample:?}: {:?}",
            explanation.signature_detail
        );
        let event = only_event(&explanation, sample);
        assert!(!event.authored_by_proxy, "{sample:?}");
        assert_eq!(event.decision, "sync", "{sample:?}: {}", event.reason);
        assert_eq!(event.connections, vec![connection], "{sample:?}");
        assert!(
            event.reason.contains("no linked issue yet: create one"),
            "{sample:?}: {}",
            event.reason
        );
        let create = &event.requests[0];
        assert_eq!(create.method, "POST", "{sample:?}");
        assert!(
            create.path.contains(path),
            "{sample:?}: {} is not {path}",
            create.path
        );
        let body = create.body.as_ref().expect("the create request has a body");
        assert!(
            body.to_string().contains(title),
            "{sample:?}: no title {title:?} in {body}"
        );
    }
}

#[tokio::test]
async fn person_comments_skipped_without_link() {
    for (folder, name) in [
        ("github", "issue_comment.created"),
        ("jira", "comment_created"),
        ("jira-dc", "issue_commented"),
        ("servicenow", "incident.commented"),
        ("zendesk", "trigger.comment_added"),
    ] {
        let sample = Sample::find(folder, name);
        let explanation = explain_sample(sample).await;
        assert_eq!(explanation.signature, SignatureCheck::Valid, "{sample:?}");
        let event = only_event(&explanation, sample);
        assert!(!event.authored_by_proxy, "{sample:?}");
        assert_eq!(event.decision, "skip", "{sample:?}");
        assert!(
            event.reason.contains(SkipReason::NotLinked.describe()),
            "{sample:?}: {}",
            event.reason
        );
        assert!(event.requests.is_empty(), "{sample:?}");
    }
}

/// Stores a link from the sample's issue to `peer` through `connection`, as the pipeline does
/// after it creates the peer.
async fn link_sample(stack: &Stack, config: &Config, sample: Sample, connection: &str, peer: &str) {
    let instance = config.instance(sample.instance).unwrap();
    let module = trackers::module(instance.tracker).unwrap();
    let parsed = module
        .source()
        .parse_for(instance, &sample.request())
        .expect("parse the sample");
    let event = &parsed.events[0];
    let peer_instance = config
        .connections
        .iter()
        .find(|c| c.id == connection)
        .and_then(|c| c.route(&event.instance, &event.project))
        .map(|(_, to)| to.instance.clone())
        .expect("the sample's project is connected");
    let link = LinkWrite {
        instance: event.instance.clone(),
        issue_id: event.issue.id.clone(),
        connection: connection.to_owned(),
        peer_instance,
        peer: IssueRef {
            key: peer.to_owned(),
            id: peer.to_owned(),
            url: format!("https://peer.invalid/{peer}"),
        },
        applied_at_ms: Some(0),
        echo: None,
        field_echoes: Vec::new(),
        echo_until_ms: 0,
        clear_echoes: Vec::new(),
    };
    let commit = Commit {
        links: vec![link],
        ..Commit::default()
    };
    stack.store.commit(&commit).await.expect("store the link");
}

#[tokio::test]
async fn person_comments_sync_to_linked_issue() {
    let stack = Stack::start().await;
    let config = Config::from_yaml(CONFIG).unwrap();
    // Sample, connection, the linked issue's key on the target, and the comment request path.
    let cases = [
        (
            Sample::find("github", "issue_comment.created"),
            "widgets",
            "SUP-9",
            "/rest/api/3/issue/SUP-9/comment",
            "Also happens on",
        ),
        (
            Sample::find("jira", "comment_created"),
            "widgets",
            "acme/widgets#12",
            "/repos/acme/widgets/issues/12/comments",
            "",
        ),
        (
            Sample::find("jira-dc", "issue_commented"),
            "backups",
            "incident/0123456789abcdef0123456789abcdef",
            "/api/now/table/incident/0123456789abcdef0123456789abcdef",
            "",
        ),
        (
            Sample::find("servicenow", "incident.commented"),
            "backups",
            "OPS-7",
            "/rest/api/2/issue/OPS-7/comment",
            "Started after the client update.",
        ),
    ];
    for (sample, connection, peer, path, text) in cases {
        link_sample(&stack, &config, sample, connection, peer).await;
        let request = sample.request();
        let explanation = run_explain(
            &config,
            demo_secrets(),
            Some(&stack.store),
            sample,
            &request,
        )
        .await;
        let event = only_event(&explanation, sample);
        assert_eq!(event.decision, "sync", "{sample:?}: {}", event.reason);
        assert_eq!(event.connections, vec![connection], "{sample:?}");
        assert!(event.reason.contains(peer), "{sample:?}: {}", event.reason);
        let comment = &event.requests[0];
        assert!(
            comment.path.starts_with(path),
            "{sample:?}: {} is not {path}",
            comment.path
        );
        let body = comment
            .body
            .as_ref()
            .expect("the comment request has a body");
        assert!(body.to_string().contains(text), "{sample:?}: {body}");
    }
}

#[tokio::test]
async fn proxy_events_skipped() {
    for (folder, name) in [
        ("jira", "issue_created.by-proxy"),
        ("jira-dc", "issue_commented.by-proxy"),
        ("zendesk", "ticket.comment_added.by-proxy"),
        ("azure-devops", "workitem.commented.by-proxy"),
        ("salesforce", "case.updated.by-proxy"),
    ] {
        let sample = Sample::find(folder, name);
        let explanation = explain_sample(sample).await;
        assert_eq!(
            explanation.signature,
            SignatureCheck::Valid,
            "{sample:?}: {:?}",
            explanation.signature_detail
        );
        let event = only_event(&explanation, sample);
        assert!(event.authored_by_proxy, "{sample:?}: {}", event.author);
        assert_eq!(event.decision, "skip", "{sample:?}");
        assert_eq!(
            event.reason,
            SkipReason::ProxyAuthor.describe(),
            "{sample:?}"
        );
        assert!(event.requests.is_empty(), "{sample:?}");
    }
}

#[tokio::test]
async fn own_sample_skipped_when_author_is_proxy() {
    // GitHub and ServiceNow have no proxy-authored sample, so the instance's proxy identity
    // is set to the samples' author instead: the same signed payload then counts as the
    // proxy's own change.
    let yaml = CONFIG
        .replace(
            "proxy: { id: \"41000001\", name: proxysync-bot }",
            "proxy: { id: \"41000002\", name: alice-dev }",
        )
        .replace(
            "proxy: { id: 6816f79cc0a8016401c5a33be04be441, name: proxysync.bot }",
            "proxy: { id: 5137153cc611227c000bbd1bd8cd2005, name: alice.agent }",
        );
    let config = Config::from_yaml(&yaml).unwrap();
    for (folder, name) in [
        ("github", "issues.opened"),
        ("github", "issue_comment.created"),
        ("servicenow", "incident.created"),
        ("servicenow", "incident.commented"),
    ] {
        let sample = Sample::find(folder, name);
        let explanation =
            run_explain(&config, demo_secrets(), None, sample, &sample.request()).await;
        assert_eq!(explanation.signature, SignatureCheck::Valid, "{sample:?}");
        let event = only_event(&explanation, sample);
        assert!(event.authored_by_proxy, "{sample:?}: {}", event.author);
        assert_eq!(event.decision, "skip", "{sample:?}");
        assert_eq!(
            event.reason,
            SkipReason::ProxyAuthor.describe(),
            "{sample:?}"
        );
    }
}

fn assert_rejected(explanation: &Explanation, sample: Sample, case: &str) {
    assert_eq!(
        explanation.signature,
        SignatureCheck::Invalid,
        "{case} {sample:?}"
    );
    assert!(
        explanation.signature_detail.is_some(),
        "{case} {sample:?}: no detail"
    );
    assert!(!explanation.events.is_empty(), "{case} {sample:?}");
    for event in &explanation.events {
        assert_eq!(event.decision, "reject", "{case} {sample:?}");
        assert!(
            event.reason.contains("401"),
            "{case} {sample:?}: {}",
            event.reason
        );
        assert!(event.requests.is_empty(), "{case} {sample:?}");
    }
}

#[tokio::test]
async fn wrong_secret_rejects_every_sample() {
    let config = Config::from_yaml(CONFIG).unwrap();
    let mut wrong = demo_secrets();
    for value in wrong.values_mut() {
        value["webhook_secret"] = json!("not-the-webhook-secret");
    }
    for sample in SAMPLES {
        let explanation =
            run_explain(&config, wrong.clone(), None, sample, &sample.request()).await;
        assert_rejected(&explanation, sample, "wrong secret");
    }
}

#[tokio::test]
async fn changed_body_rejects_signed_samples() {
    // These trackers sign the body, so a trailing space breaks the signature while the JSON
    // still parses. Azure DevOps and Salesforce send a shared secret instead, so a wrong one
    // is tested above.
    let config = Config::from_yaml(CONFIG).unwrap();
    let signed = ["github", "jira", "jira-dc", "servicenow", "zendesk"];
    for sample in SAMPLES.iter().filter(|s| signed.contains(&s.folder)) {
        let mut request = sample.request();
        request.body.push(b' ');
        let explanation = run_explain(&config, demo_secrets(), None, *sample, &request).await;
        assert_rejected(&explanation, *sample, "changed body");
    }
}

#[tokio::test]
async fn missing_signature_rejects_samples() {
    let config = Config::from_yaml(CONFIG).unwrap();
    for sample in SAMPLES {
        let mut request = sample.request();
        request.headers.retain(|(name, _)| {
            !matches!(
                name.as_str(),
                "x-hub-signature-256"
                    | "x-hub-signature"
                    | "x-proxysync-signature"
                    | "x-zendesk-webhook-signature"
                    | "authorization"
            )
        });
        request.query.clear();
        let explanation = run_explain(&config, demo_secrets(), None, sample, &request).await;
        assert_rejected(&explanation, sample, "no signature");
    }
}
