//! Logs of a full run, captured in Lambda's JSON format: no secret and no webhook text at
//! info or above, one line per outcome, and the span fields of each webhook. A second run
//! syncs through every other tracker (ServiceNow with OAuth, Zendesk, Azure DevOps, Jira Data
//! Center, Salesforce and HP ALM/QC) and checks its logs for their secrets.
//!
//! This test has a binary of its own because tracing caches whether a log site is enabled
//! across threads, so tests logging without a subscriber in the same process could hide lines
//! from this one.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use proxysync_core::WebhookResponse;
use proxysync_core::trackers::hp_alm::poll;
use proxysync_tests::peers::{call, endpoint, outcomes};
use proxysync_tests::registered::{ALM_PROJECT, ZENDESK_GROUP};
use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{JIRA_PROJECT, REPO, Stack, StackOptions};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// A log sink that tests read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("JSON log line"))
            .collect()
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn jira_fault(path: &str, status: u16) -> Fault {
    Fault {
        tracker: Some("jira".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some(path.to_owned()),
        status,
        headers: vec![],
        body: None,
        times: 1000,
        delay_ms: 0,
    }
}

/// Runs a full sync with every outcome while capturing logs as Lambda's JSON format writes them.
#[tokio::test(flavor = "current_thread")]
async fn logs_carry_no_secrets_or_bodies() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stack = Stack::start_with(StackOptions {
        sync_budget: Duration::from_millis(1200),
        ..StackOptions::default()
    })
    .await;
    let human = stack.human();
    let texts = [
        "Quarterly llama migration",
        "confidential-body-7431",
        "comment-text-5512",
        "jira-comment-9921",
        "malformed-body-text-3307",
        "parked-comment-6650",
    ];
    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": texts[0], "body": texts[1]})),
        )
        .await;
    let number = created["number"].as_u64().unwrap();
    let first = stack.sandbox.take_webhooks().remove(0);
    stack.deliver(&first).await;
    let duplicate = stack.deliver(&first).await;
    assert_eq!(duplicate.body["outcome"], "duplicate");
    stack.pump_until_quiet(6).await;

    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": texts[2]})),
        )
        .await;
    stack.pump_until_quiet(6).await;
    let key = stack.sandbox.state().jira.issues[0].key.clone();
    human
        .jira(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/comment"),
            Some(json!({"body": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": texts[3]}]}
            ]}})),
        )
        .await;
    stack.pump_until_quiet(6).await;

    // A comment that fails on Jira is parked.
    stack.sandbox.add_fault(jira_fault("/comment", 503));
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": texts[5]})),
        )
        .await;
    let answers = stack.pump().await;
    assert_eq!(answers[0].1.status, 202, "{:?}", answers[0].1.body);
    stack.sandbox.clear_faults();

    // A forged signature and a body of the wrong shape are rejected.
    let github_secret = stack.sandbox_config.github.webhook_secret.clone();
    let body = json!({"action": "opened", "issue": {"number": texts[4]}}).to_string();
    let headers = |signature: String| {
        vec![
            ("x-github-event".to_owned(), "issues".to_owned()),
            (
                "x-github-delivery".to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("x-hub-signature-256".to_owned(), signature),
        ]
    };
    let forged = stack
        .deliver_raw(
            "github",
            "acme-github",
            headers(sign("wrong-secret", body.as_bytes())),
            body.clone().into_bytes(),
        )
        .await;
    assert_eq!(forged.status, 401);
    let malformed = stack
        .deliver_raw(
            "github",
            "acme-github",
            headers(sign(&github_secret, body.as_bytes())),
            body.into_bytes(),
        )
        .await;
    assert_eq!(malformed.status, 400);

    let lines = buffer.lines();
    let loud: Vec<&Value> = lines
        .iter()
        .filter(|line| matches!(line["level"].as_str(), Some("INFO" | "WARN" | "ERROR")))
        .collect();
    let config = &stack.sandbox_config;
    let mut secrets = vec![
        config.github.webhook_secret.clone(),
        config.jira.webhook_secret.clone(),
    ];
    for user in &config.github.users {
        secrets.push(user.token.clone());
    }
    for user in &config.jira.users {
        secrets.push(user.api_token.clone());
    }
    for line in &loud {
        let text = line.to_string();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached the log: {text}"
            );
        }
        for body_text in texts {
            assert!(
                !text.contains(body_text),
                "webhook text reached the log: {text}"
            );
        }
    }

    let outcome_of = |line: &&Value| line["fields"]["outcome"].as_str().map(str::to_owned);
    let outcomes: Vec<String> = loud.iter().filter_map(outcome_of).collect();
    for expected in ["synced", "skipped", "duplicate", "parked"] {
        assert!(
            outcomes.iter().any(|o| o == expected),
            "no {expected} line in {outcomes:?}"
        );
    }
    let rejected: Vec<&&Value> = loud
        .iter()
        .filter(|line| {
            line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("webhook rejected"))
        })
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");

    let synced = loud
        .iter()
        .find(|line| line["fields"]["outcome"] == "synced")
        .unwrap();
    let spans = synced["spans"].as_array().unwrap();
    let webhook = spans.iter().find(|s| s["name"] == "webhook").unwrap();
    for field in ["tracker", "instance", "event", "delivery", "issues"] {
        assert!(
            webhook.get(field).is_some(),
            "webhook span lacks {field}: {webhook}"
        );
    }
    let sync = spans.iter().find(|s| s["name"] == "sync").unwrap();
    for field in ["connection", "issue", "kind"] {
        assert!(sync.get(field).is_some(), "sync span lacks {field}: {sync}");
    }
}

/// The instance ids of the second run, by the tracker name that the sandbox records on its
/// webhooks, with the route each goes to.
const ROUTES: [(&str, &str, &str); 7] = [
    ("github", "github", "acme-github"),
    ("jira", "jira", "acme-jira"),
    ("jira-dc", "jira", "ops-tracker"),
    ("zendesk", "zendesk", "help-desk"),
    ("azure-devops", "azure-devops", "boards"),
    ("servicenow", "servicenow", "it-desk"),
    ("salesforce", "salesforce", "crm"),
];
const SALESFORCE_URL_TOKEN: &str = "crm-outbound-url-token-5820";

/// Delivers recorded webhooks of every tracker until none are left.
async fn pump_all(stack: &Stack) -> Vec<(String, WebhookResponse)> {
    let mut all = Vec::new();
    for _ in 0..8 {
        let webhooks = stack.sandbox.take_webhooks();
        if webhooks.is_empty() {
            return all;
        }
        for webhook in webhooks {
            let (_, route, instance) = ROUTES
                .iter()
                .find(|(tracker, _, _)| *tracker == webhook.tracker)
                .unwrap_or_else(|| panic!("no instance for {}", webhook.tracker));
            let token = (webhook.tracker == "salesforce").then_some(SALESFORCE_URL_TOKEN);
            let answer = stack
                .deliver_to_instance(route, instance, &webhook, token)
                .await;
            all.push((webhook.tracker.clone(), answer));
        }
    }
    panic!("trackers still produce webhooks after 8 rounds: a sync loop. {all:#?}");
}

/// Calls a sandbox tracker as a person and returns the JSON response.
async fn as_person(request: reqwest::RequestBuilder, body: Value) -> Value {
    let (status, answer) = call(request, Some(body)).await;
    assert!(status.is_success(), "sandbox answered {status}: {answer}");
    answer
}

/// Adds every string of a secret's value that is a credential.
fn credentials_of(secret: &Value, into: &mut Vec<String>) {
    let names = [
        "password",
        "api_token",
        "token",
        "client_secret",
        "refresh_token",
        "access_token",
        "webhook_secret",
    ];
    for name in names {
        if let Some(value) = secret[name].as_str() {
            into.push(value.to_owned());
            // Azure DevOps's service hook sends `user:password` as Basic credentials.
            if let Some((_, password)) = value.split_once(':') {
                into.push(password.to_owned());
                let encoded = base64::engine::general_purpose::STANDARD.encode(value);
                into.push(encoded);
            }
        }
    }
}

/// Syncs an item from each tracker other than GitHub and Jira Cloud while capturing logs, and
/// checks them for every credential and for the items' descriptions.
#[tokio::test(flavor = "current_thread")]
async fn other_trackers_log_no_secrets() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stack = Stack::start().await;
    let registered = [
        stack.add_jira_dc("ops-tracker").await,
        stack.add_zendesk("help-desk").await,
        stack.add_azure_devops("boards").await,
        stack.add_servicenow_oauth("it-desk").await,
        stack.add_salesforce("crm", SALESFORCE_URL_TOKEN).await,
        stack.add_hp_alm("defects").await,
    ];
    let connections = [
        (
            "dc",
            endpoint("ops-tracker", "OPS"),
            endpoint("acme-jira", JIRA_PROJECT),
        ),
        (
            "desk",
            endpoint("help-desk", ZENDESK_GROUP),
            endpoint("acme-jira", "HR"),
        ),
        (
            "shop",
            endpoint("boards", "Web Shop"),
            endpoint("acme-github", "acme/secret-plans"),
        ),
        (
            "incidents",
            endpoint("it-desk", "incident"),
            endpoint("acme-github", REPO),
        ),
        (
            "cases",
            endpoint("crm", "Case"),
            endpoint("acme-github", REPO),
        ),
        (
            "alm",
            endpoint("defects", ALM_PROJECT),
            endpoint("acme-github", REPO),
        ),
    ];
    for (id, a, b) in connections {
        stack.add_connection(id, a, b).await;
    }
    let config = stack.sandbox_config.clone();
    let http = reqwest::Client::new();
    let descriptions = [
        "jiradc-description-marmot-3341",
        "zendesk-description-heron-7720",
        "azure-description-walrus-1189",
        "servicenow-description-ibis-5063",
        "salesforce-description-lynx-2290",
        "alm-description-okapi-8812",
    ];
    let comment = "github-comment-tapir-4457";

    // A person creates an item on each tracker with a webhook.
    let bob = &config.jira_dc.users[1];
    let request = http
        .post(format!("{}/rest/api/2/issue", stack.sandbox.jira_dc_url()))
        .basic_auth(&bob.name, Some(&bob.password));
    as_person(
        request,
        json!({"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Task"},
        "summary": "Nightly job stops", "description": descriptions[0]}}),
    )
    .await;
    let carol = &config.zendesk.users[1];
    let request = http
        .post(format!("{}/api/v2/tickets", stack.sandbox.zendesk_url()))
        .basic_auth(format!("{}/token", carol.email), Some(&carol.api_token));
    as_person(
        request,
        json!({"ticket": {"subject": "Printer jams",
        "comment": {"body": descriptions[1]}, "group_id": 360001}}),
    )
    .await;
    let dave = &config.azure_devops.users[1];
    let request = http
        .post(format!(
            "{}/Web%20Shop/_apis/wit/workitems/$Task?api-version=7.1",
            stack.sandbox.azure_devops_url()
        ))
        .basic_auth("", Some(&dave.pat))
        .header("content-type", "application/json-patch+json")
        .body(
            json!([
                {"op": "add", "path": "/fields/System.Title", "value": "Coupon ignored"},
                {"op": "add", "path": "/fields/System.Description", "value": descriptions[2]},
            ])
            .to_string(),
        );
    let (status, item) = call(request, None).await;
    assert!(
        status.is_success(),
        "Azure DevOps sandbox answered {status}: {item}"
    );
    let alice = &config.servicenow.users[1];
    let request = http
        .post(format!(
            "{}/api/now/table/incident",
            stack.sandbox.servicenow_url()
        ))
        .basic_auth(&alice.user_name, Some(&alice.password));
    as_person(
        request,
        json!({"short_description": "VPN drops", "description": descriptions[3]}),
    )
    .await;
    let fields = [
        ("Subject", "Export times out"),
        ("Description", descriptions[4]),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), json!(value)))
    .collect();
    let agent = &config.salesforce.users[1].id;
    let (_, message) = stack
        .sandbox
        .salesforce()
        .write_as(agent, "Case", None, fields);
    let message = message.expect("the Case's outbound message");
    let answer = stack
        .deliver_to_instance("salesforce", "crm", &message, Some(SALESFORCE_URL_TOKEN))
        .await;
    let mut answers = vec![("salesforce".to_owned(), answer)];

    answers.extend(pump_all(&stack).await);
    let list = outcomes(&answers);
    for tracker in [
        "jira-dc",
        "zendesk",
        "azure-devops",
        "servicenow",
        "salesforce",
    ] {
        let created = format!("{tracker}:synced:created");
        assert!(list.contains(&created), "no {created} in {list:?}");
    }

    // A person comments on the issue that the Case created. The Salesforce access token has
    // expired by then, so the comment's write gets 401 and the token is refreshed.
    stack.sandbox.salesforce().expire_access_tokens();
    let number = stack
        .sandbox
        .state()
        .github
        .issues
        .iter()
        .find(|issue| issue.title == "Export times out")
        .map(|issue| issue.number)
        .expect("the issue created from the Case");
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": comment})),
        )
        .await;
    let answers = pump_all(&stack).await;
    let list = outcomes(&answers);
    assert!(
        list.contains(&"github:synced:comment_added".to_owned()),
        "the comment did not reach Salesforce: {list:?}"
    );

    // HP ALM/QC has no webhooks: the poller reads the defect.
    stack.sandbox.hp_alm().create_defect(
        "tester_one",
        ALM_PROJECT,
        &[("name", "Totals wrong"), ("description", descriptions[5])],
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let reports = poll::poll_all(&stack.pipeline, deadline)
        .await
        .expect("poll");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].synced, 1, "{reports:?}");
    pump_all(&stack).await;

    // Every credential that the run used, the tokens refreshed during it included.
    let mut secrets = Vec::new();
    for instance in &registered {
        credentials_of(&instance.secret, &mut secrets);
        let current = stack
            .secrets_client
            .get_secret_value()
            .secret_id(&instance.instance.secret)
            // Without the stage, moto ignores where a stage move put AWSCURRENT.
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("read secret");
        let current: Value = serde_json::from_str(current.secret_string().unwrap()).unwrap();
        if instance.instance.id == "crm" {
            assert_ne!(
                current["access_token"],
                instance.secret["access_token"],
                "the Salesforce access token was not refreshed: {:?}",
                stack
                    .sandbox
                    .requests()
                    .iter()
                    .filter(|r| r.tracker == "salesforce")
                    .collect::<Vec<_>>()
            );
        }
        credentials_of(&current, &mut secrets);
    }
    secrets.push(config.github.users[0].token.clone());
    secrets.push(config.jira.users[0].api_token.clone());
    secrets.push(config.github.webhook_secret.clone());
    secrets.push(config.jira.webhook_secret.clone());
    assert!(secrets.len() >= 20, "{} credentials", secrets.len());

    let lines = buffer.lines();
    let loud: Vec<&Value> = lines
        .iter()
        .filter(|line| matches!(line["level"].as_str(), Some("INFO" | "WARN" | "ERROR")))
        .collect();
    // The captured lines come from each tracker's sync.
    for instance in &registered {
        let id = format!("\"{}\"", instance.instance.id);
        assert!(
            loud.iter().any(|line| line.to_string().contains(&id)),
            "no line at info or above names instance {id}"
        );
    }
    for line in &loud {
        let text = line.to_string();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached the log: {text}"
            );
        }
        for description in descriptions.iter().chain([&comment]) {
            assert!(
                !text.contains(description),
                "webhook text reached the log: {text}"
            );
        }
    }
    // The descriptions did travel: each reached GitHub or Jira Cloud.
    let state = stack.sandbox.state();
    let written: Vec<String> = state
        .github
        .issues
        .iter()
        .filter_map(|issue| issue.body.clone())
        .chain(
            state
                .jira
                .issues
                .iter()
                .map(|issue| format!("{:?}", issue.description)),
        )
        .collect();
    for description in descriptions {
        assert!(
            written.iter().any(|body| body.contains(description)),
            "{description} was not synced: {written:?}"
        );
    }
}
