//! Zendesk as a sync peer: ticket events and trigger webhooks parse, the proxy user's changes
//! are skipped, a sync with Jira Cloud converges both ways, a ticket moved out of the
//! connection's group is no longer written, bad and replayed requests are rejected, and a
//! failing target parks the event.

use std::collections::HashMap;
use std::time::Duration;

use proxysync_core::config::Config;
use proxysync_core::explain::{ExplainContext, Explanation, SignatureCheck, explain};
use proxysync_core::model::{Instance, TrackerKind};
use proxysync_core::secrets::Secrets;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers::{self, zendesk};
use proxysync_tests::Stack;
use proxysync_tests::peers::{call, endpoint, outcomes};
use proxysync_tests::tracker_sandbox::Fault;
use reqwest::Method;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

const GROUP: &str = "360001";
const JIRA_PROJECT: &str = "HR";
const SECRET: &str = "zendesk-signing-secret-for-tests";

const CONFIG: &str = r#"
instances:
  - id: zd
    tracker: zendesk
    base_url: https://acme.zendesk.invalid
    secret: proxysync/zd
    proxy: { id: "8447388090494", name: Sync Proxy }
  - id: jira
    tracker: jira-cloud
    base_url: https://acme.atlassian.invalid
    secret: proxysync/jira
    proxy: { id: "557058:00000000-0000-4000-8000-000000000001", name: Sync Bot }
connections:
  - id: support
    a: { instance: zd, project: "8447320466430" }
    b: { instance: jira, project: SUP }
"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = proxysync_tests::repo_root()
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn timestamp(seconds_ago: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::seconds(seconds_ago))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// Headers of a Zendesk delivery of `body`, signed `seconds_ago` with `secret`.
fn signed_headers(secret: &str, body: &[u8], seconds_ago: i64) -> Vec<(String, String)> {
    let at = timestamp(seconds_ago);
    vec![
        (
            "x-zendesk-webhook-invocation-id".to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ),
        (
            "x-zendesk-webhook-signature".to_owned(),
            zendesk::sign(secret, &at, body),
        ),
        ("x-zendesk-webhook-signature-timestamp".to_owned(), at),
    ]
}

async fn explain_fixture(name: &str) -> Explanation {
    let config = Config::from_yaml(CONFIG).unwrap();
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/zd".to_owned(),
        json!({"email": "sync@example.com", "api_token": "t", "webhook_secret": SECRET}),
    )]));
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let body = fixture(name);
    let request = InboundRequest {
        headers: signed_headers(SECRET, &body, 0),
        body,
        ..InboundRequest::default()
    };
    explain(&cx, "zendesk", "zd", &request)
        .await
        .expect("explain")
}

#[tokio::test]
async fn ticket_created_event_parses() {
    let explanation = explain_fixture("zendesk-ticket-created.json").await;
    assert_eq!(explanation.signature, SignatureCheck::Valid);
    assert_eq!(explanation.event, "zen:event-type:ticket.created");
    let event = &explanation.events[0];
    assert_eq!(event.issue, "5158");
    // The proxy user created this ticket in the documentation example.
    assert!(event.authored_by_proxy);
    assert_eq!(event.decision, "skip");
}

#[tokio::test]
async fn comment_added_event_parses() {
    let explanation = explain_fixture("zendesk-comment-added.json").await;
    assert_eq!(explanation.signature, SignatureCheck::Valid);
    let event = &explanation.events[0];
    // The actor is the proxy user, but the comment's author decides.
    assert_eq!(event.author, "Dana Agent (8447388090777)");
    assert!(!event.authored_by_proxy);
    assert!(event.reason.contains("no linked issue"), "{}", event.reason);
}

#[tokio::test]
async fn trigger_comment_parses() {
    let explanation = explain_fixture("zendesk-trigger-comment.json").await;
    assert_eq!(explanation.signature, SignatureCheck::Valid);
    assert_eq!(explanation.event, "trigger:ticket.comment_added");
    let event = &explanation.events[0];
    assert_eq!(event.issue, "5158");
    assert_eq!(event.author, "Dana Agent (8447388090777)");
}

#[tokio::test]
async fn group_event_ignored() {
    let body = br#"{"type":"zen:event-type:user.group_membership_created","account_id":1,"id":"x","detail":{"id":"1"},"event":{}}"#;
    let config = Config::from_yaml(CONFIG).unwrap();
    let secrets = Secrets::fixed(HashMap::new());
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let request = InboundRequest {
        body: body.to_vec(),
        ..InboundRequest::default()
    };
    let explanation = explain(&cx, "zendesk", "zd", &request).await.unwrap();
    assert!(explanation.events.is_empty());
    assert!(explanation.ignored.unwrap().contains("not synced"));
}

async fn start() -> (Stack, Instance) {
    let stack = Stack::start().await;
    let config = stack.sandbox_config.zendesk.clone();
    let proxy = &config.users[0];
    let instance = stack
        .add_instance(
            "acme-zendesk",
            TrackerKind::Zendesk,
            stack.sandbox.zendesk_url(),
            json!({"email": proxy.email, "api_token": proxy.api_token, "webhook_secret": config.webhook_secret}),
            Map::new(),
        )
        .await;
    stack
        .add_connection(
            "helpdesk",
            endpoint("acme-zendesk", GROUP),
            endpoint("acme-jira", JIRA_PROJECT),
        )
        .await;
    (stack, instance)
}

/// Calls the Zendesk sandbox as the agent Carol.
async fn as_carol(stack: &Stack, method: Method, path: &str, body: Option<Value>) -> Value {
    as_user(stack, 1, method, path, body).await
}

/// Calls the Zendesk sandbox as the sandbox's Zendesk user at `index`: 1 is the agent Carol,
/// 2 the admin Dana.
async fn as_user(
    stack: &Stack,
    index: usize,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let user = &stack.sandbox_config.zendesk.users[index];
    let request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.sandbox.zendesk_url()))
        .basic_auth(format!("{}/token", user.email), Some(&user.api_token));
    let (status, answer) = call(request, body).await;
    assert!(
        status.is_success(),
        "Zendesk sandbox answered {status}: {answer}"
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_and_jira_converge() {
    let (stack, instance) = start().await;
    assert_eq!(instance.proxy.as_ref().unwrap().id, "9001000001");
    let created = as_carol(
        &stack,
        Method::POST,
        "/api/v2/tickets",
        Some(json!({"ticket": {
            "subject": "Printer jams",
            "comment": {"body": "Jams after every **second** page."},
            "group_id": 360001,
            "tags": ["printer"],
        }})),
    )
    .await;
    let ticket_id = created["ticket"]["id"].as_u64().unwrap();
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(
        list.contains(&"zendesk:synced:created".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"zendesk:skipped:proxy_author".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"jira:skipped:proxy_author".to_owned()),
        "{list:?}"
    );

    let jira = stack.sandbox.state().jira;
    let issue = jira
        .issues
        .iter()
        .find(|i| i.project_key == JIRA_PROJECT)
        .expect("the Jira issue")
        .clone();
    assert_eq!(issue.summary, "Printer jams");
    assert_eq!(issue.labels, vec!["printer"]);
    assert!(
        issue
            .description
            .as_ref()
            .unwrap()
            .to_string()
            .contains("\"strong\""),
        "{:?}",
        issue.description
    );
    let notes = stack.sandbox.zendesk_state().comments;
    let link = notes.iter().find(|c| c.body.contains(&issue.key)).unwrap();
    assert!(!link.public, "the link note is private");

    // Jira edits and comments reach Zendesk.
    let path = format!("/rest/api/3/issue/{}", issue.key);
    let human = stack.human();
    human
        .jira(
            Method::PUT,
            &path,
            Some(json!({"fields": {"summary": "Printer jams on floor 3"}})),
        )
        .await;
    let adf = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Ordered a new roller."}]}]});
    human
        .jira(
            Method::POST,
            &format!("{path}/comment"),
            Some(json!({"body": adf})),
        )
        .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(list.contains(&"jira:synced:updated".to_owned()), "{list:?}");
    assert!(
        list.contains(&"jira:synced:comment_added".to_owned()),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|o| o.starts_with("zendesk:synced")),
        "{list:?}"
    );
    let state = stack.sandbox.zendesk_state();
    let ticket = state.tickets.iter().find(|t| t.id == ticket_id).unwrap();
    assert_eq!(ticket.subject, "Printer jams on floor 3");
    let note = state
        .comments
        .iter()
        .find(|c| c.body.contains("Ordered a new roller."))
        .expect("the Jira comment on Zendesk");
    assert!(!note.public);
    assert!(note.body.contains("Alice Example"), "{}", note.body);

    // A public reply and solving the ticket reach Jira.
    as_carol(
        &stack,
        Method::PUT,
        &format!("/api/v2/tickets/{ticket_id}"),
        Some(json!({"ticket": {"comment": {"body": "Works again, thanks!", "public": true}}})),
    )
    .await;
    as_carol(
        &stack,
        Method::PUT,
        &format!("/api/v2/tickets/{ticket_id}"),
        Some(json!({"ticket": {"status": "solved"}})),
    )
    .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(
        list.contains(&"zendesk:synced:comment_added".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"zendesk:synced:updated".to_owned()),
        "{list:?}"
    );
    let jira = stack.sandbox.state().jira;
    let issue = jira.issues.iter().find(|i| i.key == issue.key).unwrap();
    assert_eq!(issue.status, "Done");
    let mirrored = jira
        .comments
        .iter()
        .filter(|c| c.issue_id == issue.id)
        .map(|c| c.body.to_string())
        .find(|body| body.contains("Works again"));
    let mirrored = mirrored.expect("the Zendesk reply on Jira");
    assert!(mirrored.contains("Carol Agent"), "{mirrored}");
}

/// Creates a ticket in the connection's group as Carol and returns its id.
async fn create_ticket(stack: &Stack, subject: &str) -> u64 {
    let created = as_carol(
        stack,
        Method::POST,
        "/api/v2/tickets",
        Some(json!({"ticket": {"subject": subject, "comment": {"body": "Details."}, "group_id": 360001}})),
    )
    .await;
    created["ticket"]["id"].as_u64().unwrap()
}

/// Counts the proxy user's writes to one Zendesk ticket that the sandbox received.
fn proxy_writes_to(stack: &Stack, ticket_id: u64) -> usize {
    let proxy = stack.sandbox_config.zendesk.users[0].id.to_string();
    let path = format!("/api/v2/tickets/{ticket_id}");
    stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.tracker == "zendesk" && r.method != "GET")
        .filter(|r| r.user_id.as_deref() == Some(proxy.as_str()) && r.path.ends_with(&path))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_ticket_not_written() {
    let (stack, _) = start().await;
    let moved_id = create_ticket(&stack, "Monitor flickers").await;
    let kept_id = create_ticket(&stack, "Mouse double-clicks").await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    let created = list
        .iter()
        .filter(|o| *o == "zendesk:synced:created")
        .count();
    assert_eq!(created, 2, "{list:?}");
    let jira = stack.sandbox.state().jira;
    let jira_key = |summary: &str| {
        jira.issues
            .iter()
            .find(|i| i.project_key == JIRA_PROJECT && i.summary == summary)
            .unwrap_or_else(|| panic!("no Jira issue {summary:?}"))
            .key
            .clone()
    };
    let (moved_key, kept_key) = (
        jira_key("Monitor flickers"),
        jira_key("Mouse double-clicks"),
    );

    // An admin moves one ticket to another group. Zendesk's event for the move is not synced.
    as_user(
        &stack,
        2,
        Method::PUT,
        &format!("/api/v2/tickets/{moved_id}"),
        Some(json!({"ticket": {"group_id": 360002}})),
    )
    .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert_eq!(list, vec!["zendesk:ignored"], "{list:?}");
    let writes_before = proxy_writes_to(&stack, moved_id);
    let comments_before = stack.sandbox.zendesk_state().comments.len();

    // Edits and comments on both Jira issues: only the ticket still in the group is written.
    let human = stack.human();
    for (key, summary) in [
        (&moved_key, "Monitor flickers, edited"),
        (&kept_key, "Mouse double-clicks, edited"),
    ] {
        human
            .jira(
                Method::PUT,
                &format!("/rest/api/3/issue/{key}"),
                Some(json!({"fields": {"summary": summary}})),
            )
            .await;
    }
    let adf = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Swapped the cable."}]}]});
    human
        .jira(
            Method::POST,
            &format!("/rest/api/3/issue/{moved_key}/comment"),
            Some(json!({"body": adf})),
        )
        .await;
    let answers = stack.pump_any_until_quiet(6).await;
    let list = outcomes(&answers);
    let outside = list
        .iter()
        .filter(|o| *o == "jira:skipped:outside_project")
        .count();
    assert_eq!(outside, 2, "{list:?}");
    assert!(list.contains(&"jira:synced:updated".to_owned()), "{list:?}");
    let moved_events: Vec<&Value> = answers
        .iter()
        .flat_map(|(_, answer)| answer.body["events"].as_array().into_iter().flatten())
        .filter(|event| event["issue"] == moved_key.as_str())
        .collect();
    assert_eq!(moved_events.len(), 2, "{moved_events:?}");
    for event in moved_events {
        assert_eq!(event["decision"], "skipped", "{event}");
        assert_eq!(event["reason"], "outside_project", "{event}");
    }

    assert_eq!(proxy_writes_to(&stack, moved_id), writes_before);
    let state = stack.sandbox.zendesk_state();
    let ticket = |id: u64| state.tickets.iter().find(|t| t.id == id).unwrap().clone();
    assert_eq!(ticket(moved_id).subject, "Monitor flickers");
    assert_eq!(ticket(moved_id).group_id, Some(360002));
    assert_eq!(ticket(kept_id).subject, "Mouse double-clicks, edited");
    assert_eq!(
        state.comments.len(),
        comments_before,
        "{:?}",
        state.comments
    );
    assert!(
        stack.store.list_parked().await.unwrap().is_empty(),
        "a skipped write is not parked"
    );

    // The inbound side: a reply on the moved ticket is outside every connection.
    as_carol(
        &stack,
        Method::PUT,
        &format!("/api/v2/tickets/{moved_id}"),
        Some(json!({"ticket": {"comment": {"body": "Still flickers.", "public": true}}})),
    )
    .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert_eq!(list, vec!["zendesk:skipped:not_connected"], "{list:?}");
    let jira = stack.sandbox.state().jira;
    assert!(
        !jira
            .comments
            .iter()
            .any(|c| c.body.to_string().contains("Still flickers.")),
        "{:?}",
        jira.comments
    );

    // The link survives: once the ticket is back in the group, edits reach it again.
    as_user(
        &stack,
        2,
        Method::PUT,
        &format!("/api/v2/tickets/{moved_id}"),
        Some(json!({"ticket": {"group_id": 360001}})),
    )
    .await;
    stack.pump_any_until_quiet(6).await;
    human
        .jira(
            Method::PUT,
            &format!("/rest/api/3/issue/{moved_key}"),
            Some(json!({"fields": {"summary": "Monitor flickers, back"}})),
        )
        .await;
    let list = outcomes(&stack.pump_any_until_quiet(6).await);
    assert!(list.contains(&"jira:synced:updated".to_owned()), "{list:?}");
    let state = stack.sandbox.zendesk_state();
    let ticket = state.tickets.iter().find(|t| t.id == moved_id).unwrap();
    assert_eq!(ticket.subject, "Monitor flickers, back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_check_names_groups() {
    let (stack, instance) = start().await;
    let ticket_id = create_ticket(&stack, "Keyboard sticks").await;
    as_user(
        &stack,
        2,
        Method::PUT,
        &format!("/api/v2/tickets/{ticket_id}"),
        Some(json!({"ticket": {"group_id": 360002}})),
    )
    .await;
    let module = trackers::module(TrackerKind::Zendesk).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let api = stack
        .pipeline
        .api(&instance, deadline, false)
        .await
        .unwrap();
    let ticket = proxysync_core::model::IssueRef {
        key: ticket_id.to_string(),
        id: ticket_id.to_string(),
        url: String::new(),
    };
    let inside = endpoint("acme-zendesk", "360002");
    let outside = endpoint("acme-zendesk", GROUP);
    let target = module.target();
    assert_eq!(
        target
            .check_in_project(&api, &inside, &ticket)
            .await
            .unwrap(),
        None
    );
    let reason = target
        .check_in_project(&api, &outside, &ticket)
        .await
        .unwrap()
        .expect("a ticket in another group is outside the connection");
    assert!(reason.contains(&format!("ticket {ticket_id}")), "{reason}");
    assert!(reason.contains("group 360002"), "{reason}");
    assert!(reason.contains("group 360001"), "{reason}");

    // A ticket that left every group.
    as_user(
        &stack,
        2,
        Method::PUT,
        &format!("/api/v2/tickets/{ticket_id}"),
        Some(json!({"ticket": {"group_id": null}})),
    )
    .await;
    let reason = target
        .check_in_project(&api, &outside, &ticket)
        .await
        .unwrap()
        .expect("a ticket without a group is outside the connection");
    assert!(reason.contains("no group"), "{reason}");

    // A ticket that no longer exists is a failed read, which parks the write.
    let missing = proxysync_core::model::IssueRef {
        key: "999999".to_owned(),
        ..ticket
    };
    let error = target
        .check_in_project(&api, &outside, &missing)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_webhook_creates_issue() {
    let (stack, _) = start().await;
    let secret = stack.sandbox_config.zendesk.webhook_secret.clone();
    let carol = &stack.sandbox_config.zendesk.users[1];
    let body = json!({
        "proxysync": "zendesk-trigger",
        "event": "ticket.created",
        "ticket": {"id": "5100", "subject": "Badge reader offline", "description": "Door 2 stays shut.",
                   "status": "New", "tags": "facilities door", "group_id": GROUP,
                   "updated_at": timestamp(0), "url": "acme.zendesk.com/agent/tickets/5100"},
        "current_user": {"id": carol.id.to_string(), "email": carol.email, "name": carol.name},
    })
    .to_string()
    .into_bytes();
    let request = InboundRequest {
        headers: signed_headers(&secret, &body, 0),
        body,
        ..InboundRequest::default()
    };
    let answer = stack
        .deliver_request("zendesk", "acme-zendesk", request)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["events"][0]["action"], "created",
        "{}",
        answer.body
    );
    let jira = stack.sandbox.state().jira;
    let issue = jira
        .issues
        .iter()
        .find(|i| i.project_key == JIRA_PROJECT)
        .unwrap();
    assert_eq!(issue.summary, "Badge reader offline");
    assert_eq!(issue.labels, vec!["facilities", "door"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_replayed_requests_rejected() {
    let (stack, _) = start().await;
    let secret = stack.sandbox_config.zendesk.webhook_secret.clone();
    let body = fixture("zendesk-ticket-created.json");
    let unsigned: Vec<(String, String)> = Vec::new();
    let cases = [
        (
            "no signature",
            unsigned,
            body.clone(),
            401,
            "missing_signature",
        ),
        (
            "wrong secret",
            signed_headers("wrong", &body, 0),
            body.clone(),
            401,
            "bad_signature",
        ),
        (
            "replayed",
            signed_headers(&secret, &body, 600),
            body.clone(),
            401,
            "stale_timestamp",
        ),
        (
            "not JSON",
            signed_headers(&secret, b"ticket=1", 0),
            b"ticket=1".to_vec(),
            400,
            "malformed",
        ),
        (
            "no actor",
            signed_headers(
                &secret,
                br#"{"type":"zen:event-type:ticket.created","detail":{"id":"1"}}"#,
                0,
            ),
            br#"{"type":"zen:event-type:ticket.created","detail":{"id":"1"}}"#.to_vec(),
            400,
            "malformed",
        ),
        (
            "unknown shape",
            signed_headers(&secret, br#"{"ticket_id":"1"}"#, 0),
            br#"{"ticket_id":"1"}"#.to_vec(),
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
            .deliver_request("zendesk", "acme-zendesk", request)
            .await;
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

    // The allowed age is an instance option.
    let mut options = Map::new();
    options.insert(zendesk::MAX_AGE_OPTION.to_owned(), json!(3600));
    let proxy = &stack.sandbox_config.zendesk.users[0];
    stack
        .add_instance(
            "lenient-zendesk",
            TrackerKind::Zendesk,
            stack.sandbox.zendesk_url(),
            json!({"email": proxy.email, "api_token": proxy.api_token, "webhook_secret": secret}),
            options,
        )
        .await;
    let request = InboundRequest {
        headers: signed_headers(&secret, &body, 600),
        body: body.clone(),
        ..InboundRequest::default()
    };
    let answer = stack
        .deliver_request("zendesk", "lenient-zendesk", request)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_fault_parks_event() {
    let (stack, _) = start().await;
    stack.sandbox.add_fault(Fault {
        tracker: Some("zendesk".to_owned()),
        method: Some("POST".to_owned()),
        path_contains: Some("/api/v2/tickets".to_owned()),
        status: 503,
        times: 100,
        ..Fault::default()
    });
    stack
        .human()
        .jira(
            Method::POST,
            "/rest/api/3/issue",
            Some(
                json!({"fields": {"project": {"key": JIRA_PROJECT}, "issuetype": {"name": "Task"},
                                   "summary": "Laptop for the new hire"}}),
            ),
        )
        .await;
    let webhook = stack.sandbox.take_webhooks().remove(0);
    let answer = stack.deliver_any(&webhook).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["events"][0]["decision"], "parked");
    assert!(stack.sandbox.zendesk_state().tickets.is_empty());

    stack.sandbox.clear_faults();
    let report = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .expect("replay");
    assert_eq!(report.replayed, 1, "{report:?}");
    let tickets = stack.sandbox.zendesk_state().tickets;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].group_id, Some(360001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_needs_admin() {
    let (stack, instance) = start().await;
    let module = trackers::module(TrackerKind::Zendesk).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let api = stack
        .pipeline
        .api(&instance, deadline, false)
        .await
        .unwrap();
    let checks = module.target().preflight(&api, &instance).await;
    assert_eq!(checks.len(), 1);
    assert!(checks[0].ok, "{checks:?}");

    let carol = &stack.sandbox_config.zendesk.users[1];
    let agent = stack
        .add_instance(
            "agent-zendesk",
            TrackerKind::Zendesk,
            stack.sandbox.zendesk_url(),
            json!({"email": carol.email, "api_token": carol.api_token, "webhook_secret": "x"}),
            Map::new(),
        )
        .await;
    let api = stack.pipeline.api(&agent, deadline, false).await.unwrap();
    let checks = module.target().preflight(&api, &agent).await;
    assert!(!checks[0].ok);
    assert!(
        checks[0].detail.contains("role is agent"),
        "{}",
        checks[0].detail
    );
}

#[tokio::test]
async fn sample_events_verify() {
    // The samples were signed once, so the allowed age is stretched past their timestamp.
    let yaml = CONFIG.replace(
        "    proxy: { id: \"8447388090494\", name: Sync Proxy }",
        "    proxy: { id: \"9001000001\", name: ProxySync Bot }\n    options: { signature_max_age_secs: 3000000000 }",
    );
    let config = Config::from_yaml(&yaml).unwrap();
    let secrets = Secrets::fixed(HashMap::from([(
        "proxysync/zd".to_owned(),
        json!({"email": "e", "api_token": "t", "webhook_secret": "sandbox-zendesk-signing-secret"}),
    )]));
    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: None,
        http: reqwest::Client::new(),
    };
    let events = proxysync_tests::repo_root().join("events/zendesk");
    for (name, proxy) in [
        ("ticket.created", false),
        ("ticket.comment_added.by-proxy", true),
        ("trigger.comment_added", false),
    ] {
        let read = |ext: &str| std::fs::read(events.join(format!("{name}.{ext}"))).unwrap();
        let headers = String::from_utf8(read("headers")).unwrap();
        let request = InboundRequest {
            headers: proxysync_core::explain::parse_headers(&headers),
            body: read("json"),
            ..InboundRequest::default()
        };
        let explanation = explain(&cx, "zendesk", "zd", &request)
            .await
            .expect("explain");
        assert_eq!(explanation.signature, SignatureCheck::Valid, "{name}");
        assert_eq!(explanation.events.len(), 1, "{name}");
        assert_eq!(explanation.events[0].authored_by_proxy, proxy, "{name}");
    }
}
