//! ServiceNow as a sync peer: business-rule webhooks in, the Table API out, with basic and
//! OAuth sign-in, against the sandbox and moto's server.

mod servicenow_common;

use proxysync_core::trackers::servicenow::sign;
use proxysync_tests::tracker_sandbox::Fault;
use proxysync_tests::{JIRA_PROJECT, REPO, Stack};
use reqwest::Method;
use serde_json::{Value, json};
use servicenow_common::*;

fn decisions(answers: &[(String, proxysync_core::WebhookResponse)], tracker: &str) -> Vec<String> {
    answers
        .iter()
        .filter(|(from, _)| from == tracker)
        .flat_map(|(_, answer)| {
            answer.body["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|event| {
                    format!(
                        "{}:{}",
                        event["decision"].as_str().unwrap_or_default(),
                        event["reason"]
                            .as_str()
                            .or(event["action"].as_str())
                            .unwrap_or_default()
                    )
                })
        })
        .collect()
}

#[tokio::test]
async fn incident_syncs_to_github_and_back() {
    let stack = Stack::start().await;
    connect(&stack, SignIn::Basic, "acme-github", REPO).await;
    let agent = Agent::new(&stack);

    let incident = agent
        .create_incident("Mail server down", "Nobody can send mail.")
        .await;
    let sys_id = incident["sys_id"].as_str().unwrap().to_owned();
    let answers = pump_until_quiet(&stack).await;
    assert!(
        decisions(&answers, "servicenow").contains(&"synced:created".to_owned()),
        "{answers:#?}"
    );
    let github = stack.sandbox.state().github;
    let issue = github
        .issues
        .iter()
        .find(|issue| issue.title == "Mail server down")
        .expect("the incident created a GitHub issue");
    assert_eq!(issue.body.as_deref(), Some("Nobody can send mail."));
    // The proxy's own link note on the incident came back and was skipped.
    assert!(
        decisions(&answers, "servicenow").contains(&"skipped:proxy_author".to_owned())
            || answers
                .iter()
                .any(|(from, a)| from == "servicenow" && a.body["outcome"] == "ignored"),
        "{answers:#?}"
    );

    // A customer-visible comment on the incident reaches GitHub with its author.
    agent
        .patch(&sys_id, json!({"comments": "Restarted the relay."}))
        .await;
    pump_until_quiet(&stack).await;
    let comments = stack.sandbox.state().github.comments;
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("Restarted the relay.") && c.body.contains("alice.agent")),
        "{comments:#?}"
    );

    // Closing on GitHub resolves the incident, with the close code that resolving needs.
    let human = stack.human();
    let path = format!("/repos/{REPO}/issues/{}", issue.number);
    human
        .github(Method::PATCH, &path, Some(json!({"state": "closed"})))
        .await;
    pump_until_quiet(&stack).await;
    let record = stack
        .sandbox
        .servicenow()
        .records()
        .into_iter()
        .find(|r| r.sys_id == sys_id)
        .unwrap();
    assert_eq!(record.field("state"), "6");
    assert!(!record.field("close_code").is_empty());
    assert_eq!(record.field("sys_updated_by"), "proxysync.bot");
}

#[tokio::test]
async fn github_issue_creates_incident_with_work_notes() {
    let stack = Stack::start().await;
    connect(&stack, SignIn::Basic, "acme-github", REPO).await;
    let human = stack.human();

    let created = human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Printer on fire", "body": "Second floor."})),
        )
        .await;
    pump_until_quiet(&stack).await;
    let records = stack.sandbox.servicenow().records();
    let incident = records
        .iter()
        .find(|r| r.field("short_description") == "Printer on fire")
        .expect("the GitHub issue created an incident");
    assert_eq!(incident.field("description"), "Second floor.");
    assert_eq!(incident.field("sys_created_by"), "proxysync.bot");

    let number = created["number"].as_u64().unwrap();
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{number}/comments"),
            Some(json!({"body": "Extinguisher is on its way."})),
        )
        .await;
    pump_until_quiet(&stack).await;
    let journal = stack.sandbox.servicenow().journal();
    let note = journal
        .iter()
        .find(|entry| entry.value.contains("Extinguisher is on its way."))
        .expect("the comment became a journal entry");
    assert_eq!(note.element, "work_notes");
    assert_eq!(note.sys_created_by, "proxysync.bot");
}

#[tokio::test]
async fn incident_and_jira_sync_both_ways() {
    let stack = Stack::start().await;
    connect(&stack, SignIn::Basic, "acme-jira", JIRA_PROJECT).await;
    let agent = Agent::new(&stack);

    let incident = agent.create_incident("VPN drops", "Every hour.").await;
    let sys_id = incident["sys_id"].as_str().unwrap().to_owned();
    pump_until_quiet(&stack).await;
    let jira = stack.sandbox.state().jira;
    let issue = jira
        .issues
        .iter()
        .find(|issue| issue.summary == "VPN drops")
        .expect("the incident created a Jira issue")
        .clone();

    let human = stack.human();
    human
        .jira(
            Method::PUT,
            &format!("/rest/api/3/issue/{}", issue.key),
            Some(json!({"fields": {"summary": "VPN drops every hour"}})),
        )
        .await;
    let answers = pump_until_quiet(&stack).await;
    let record = stack
        .sandbox
        .servicenow()
        .records()
        .into_iter()
        .find(|r| r.sys_id == sys_id)
        .unwrap();
    assert_eq!(
        record.field("short_description"),
        "VPN drops every hour",
        "{answers:#?}"
    );
}

fn signed(stack: &Stack, body: &Value) -> (Vec<(String, String)>, Vec<u8>) {
    let bytes = body.to_string().into_bytes();
    let secret = &stack.sandbox_config.servicenow.webhook_secret;
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-proxysync-signature".to_owned(), sign(secret, &bytes)),
    ];
    (headers, bytes)
}

fn rule_payload(table: &str, actor_sys_id: &str) -> Value {
    json!({
        "table": table,
        "sys_id": "9d385017c611228701d22104cc95c371",
        "number": "PRB0000001",
        "operation": "insert",
        "sys_mod_count": "0",
        "sys_updated_on": "2026-12-04 16:20:00",
        "changed_fields": ["short_description"],
        "record": {"short_description": "Disk full", "description": "", "state": "1", "active": "true"},
        "journal": null,
        "actor": {"sys_id": actor_sys_id, "user_name": "someone"},
        "instance_url": "https://acme.service-now.com"
    })
}

#[tokio::test]
async fn bad_signature_missing_fields_and_uncovered_table() {
    let stack = Stack::start().await;
    connect(&stack, SignIn::Basic, "acme-github", REPO).await;
    let human_id = &stack.sandbox_config.servicenow.users[1].sys_id;

    let (mut headers, body) = signed(&stack, &rule_payload("incident", human_id));
    headers[1].1 = sign("not-the-secret", &body);
    let answer = stack
        .deliver_raw("servicenow", SNOW, headers, body.clone())
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.body["error"], "bad_signature");

    let unsigned = vec![("content-type".to_owned(), "application/json".to_owned())];
    let answer = stack.deliver_raw("servicenow", SNOW, unsigned, body).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.body["error"], "missing_signature");

    let mut missing = rule_payload("incident", human_id);
    missing.as_object_mut().unwrap().remove("sys_id");
    let (headers, body) = signed(&stack, &missing);
    let answer = stack.deliver_raw("servicenow", SNOW, headers, body).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body["message"].as_str().unwrap().contains("sys_id"),
        "{answer:?}"
    );

    let (headers, body) = signed(&stack, &rule_payload("problem", human_id));
    let answer = stack.deliver_raw("servicenow", SNOW, headers, body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["events"][0]["reason"], "not_connected");
    assert!(stack.sandbox.state().github.issues.is_empty());
}

#[tokio::test]
async fn proxy_user_changes_are_skipped() {
    let stack = Stack::start().await;
    connect(&stack, SignIn::Basic, "acme-github", REPO).await;
    let proxy_id = &stack.sandbox_config.servicenow.users[0].sys_id;

    let (headers, body) = signed(&stack, &rule_payload("incident", proxy_id));
    let answer = stack.deliver_raw("servicenow", SNOW, headers, body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["events"][0]["reason"], "proxy_author");
    assert!(stack.sandbox.state().github.issues.is_empty());
}

#[tokio::test]
async fn oauth_401_mid_sync_refreshes_once_and_retries() {
    let stack = Stack::start().await;
    let secret_id = connect(
        &stack,
        SignIn::OAuth { expires_in: 1800 },
        "acme-github",
        REPO,
    )
    .await;
    let (before, _) = read_secret(&stack, &secret_id).await;

    // The proxy's access token dies early (revoked by an admin, or the instance restarted).
    stack.sandbox.servicenow().expire_access_tokens();
    let human = stack.human();
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Badge reader broken", "body": ""})),
        )
        .await;
    let answers = pump_until_quiet(&stack).await;
    assert!(
        decisions(&answers, "github").contains(&"synced:created".to_owned()),
        "{answers:#?}"
    );
    assert_eq!(token_calls(&stack), 1);
    let (after, _) = read_secret(&stack, &secret_id).await;
    assert_ne!(before["access_token"], after["access_token"]);
    assert!(
        stack
            .sandbox
            .servicenow()
            .access_token_valid(after["access_token"].as_str().unwrap())
    );
    let records = stack.sandbox.servicenow().records();
    assert!(
        records
            .iter()
            .any(|r| r.field("short_description") == "Badge reader broken")
    );
}

#[tokio::test]
async fn oauth_whoami_uses_the_session_user() {
    let stack = Stack::start().await;
    let (instance, _) = add_instance(&stack, SNOW, SignIn::OAuth { expires_in: 600 }).await;
    let proxy = instance.proxy.unwrap();
    assert_eq!(proxy.id, stack.sandbox_config.servicenow.users[0].sys_id);
    assert_eq!(proxy.name, "proxysync.bot");
}

#[tokio::test]
async fn table_api_fault_parks_the_event() {
    let stack = Stack::start().await;
    connect(&stack, SignIn::Basic, "acme-github", REPO).await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("servicenow".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/api/now/table/incident".to_owned()),
        status: 400,
        times: 1,
        ..Fault::default()
    });
    let human = stack.human();
    human
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Refused", "body": ""})),
        )
        .await;
    let answers = pump(&stack).await;
    assert_eq!(answers[0].1.status, 202, "{answers:#?}");
    assert_eq!(stack.count_items("parked").await, 1);
}
