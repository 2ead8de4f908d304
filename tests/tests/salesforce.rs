//! Salesforce as a sync peer: Outbound Messages parse, the proxy user's changes are skipped,
//! a sync with GitHub converges both ways, bad messages are rejected with a SOAP fault, a
//! notification that failed is redelivered and applied once, a notification redelivered inside
//! another batch is applied once, and a 401 refreshes the token, also for the link comment.

use proxysync_core::WebhookResponse;
use proxysync_core::model::{Instance, TrackerKind};
use proxysync_core::tracker::{InboundRequest, Source};
use proxysync_core::trackers::salesforce::Salesforce;
use proxysync_tests::Stack;
use proxysync_tests::peers::{endpoint, outcomes};
use proxysync_tests::tracker_sandbox::RecordedWebhook;
use reqwest::Method;
use serde_json::{Map, Value, json};

const REPO: &str = "acme/widgets";
const INSTANCE: &str = "acme-salesforce";
const TOKEN: &str = "sandbox-salesforce-endpoint-token-0123456789";

fn sample(name: &str) -> Vec<u8> {
    let path = proxysync_tests::repo_root()
        .join("events/salesforce")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn options(org: &str) -> Map<String, Value> {
    let mut options = Map::new();
    options.insert("organization_id".to_owned(), json!(org));
    options.insert("sobject_types".to_owned(), json!(["Case", "CaseComment"]));
    options.insert("session_timeout_secs".to_owned(), json!(7200));
    options
}

fn offline_instance() -> Instance {
    Instance {
        id: INSTANCE.to_owned(),
        tracker: TrackerKind::Salesforce,
        base_url: "https://example.my.salesforce.com".to_owned(),
        secret: "proxysync/sf".to_owned(),
        proxy: Some(proxysync_core::model::ProxyIdentity {
            id: "005000000000001AAA".to_owned(),
            name: "sync.proxy@example.com".to_owned(),
        }),
        options: options("00D000000000042AAA"),
    }
}

fn request(body: Vec<u8>) -> InboundRequest {
    InboundRequest {
        headers: vec![(
            "content-type".to_owned(),
            "text/xml; charset=utf-8".to_owned(),
        )],
        query: vec![("token".to_owned(), TOKEN.to_owned())],
        body,
    }
}

#[test]
fn case_message_parses() {
    let parsed = Salesforce
        .parse_for(&offline_instance(), &request(sample("case.updated.xml")))
        .expect("parse the sample");
    assert_eq!(
        parsed.delivery_id.as_deref(),
        Some("notification:04l000000000101AAA")
    );
    assert_eq!(parsed.event_ids, vec!["notification:04l000000000101AAA"]);
    assert_eq!(parsed.events.len(), 1);
    let event = &parsed.events[0];
    assert_eq!(event.issue.id, "Case/500000000000101AAA");
    assert_eq!(event.issue.key, "00001026");
    assert_eq!(event.project, "Case");
    assert_eq!(event.author.id, "005000000000002AAA");
    assert_eq!(event.content.title, "Sign-in fails after password step");
    assert_eq!(event.at_ms, 1_714_644_900_000);
    assert_eq!(event.kind, "Case.updated");
}

#[test]
fn short_proxy_id_matches() {
    let parsed = Salesforce
        .parse_for(
            &offline_instance(),
            &request(sample("case.updated.by-proxy.xml")),
        )
        .expect("parse the sample");
    assert_eq!(parsed.events[0].author.id, "005000000000001AAA");
}

/// Starts a stack with a Salesforce instance whose secret contains a fresh access token, and a
/// connection between its Cases and the GitHub repository.
async fn start() -> (Stack, Instance) {
    let stack = Stack::start().await;
    let config = stack.sandbox_config.salesforce.clone();
    let refresh = stack
        .sandbox
        .salesforce()
        .issue_refresh_token(&config.users[0].username);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
        ("refresh_token", refresh.as_str()),
    ];
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/services/oauth2/token",
            stack.sandbox.salesforce_url()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .expect("token call")
        .json()
        .await
        .expect("token answer");
    let secret = json!({
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "refresh_token": refresh,
        "access_token": answer["access_token"],
        "access_token_expires_at": proxysync_core::time_util::now_ms() / 1000 + 7200,
        "webhook_secret": TOKEN,
    });
    let instance = stack
        .add_instance(
            INSTANCE,
            TrackerKind::Salesforce,
            stack.sandbox.salesforce_url(),
            secret,
            options(&config.organization_id),
        )
        .await;
    stack
        .add_connection(
            "cases",
            endpoint("acme-github", REPO),
            endpoint(INSTANCE, "Case"),
        )
        .await;
    (stack, instance)
}

async fn deliver_salesforce(stack: &Stack, body: Vec<u8>) -> WebhookResponse {
    stack
        .deliver_request("salesforce", INSTANCE, request(body))
        .await
}

/// Delivers every recorded webhook until none are left; Outbound Messages go to the Salesforce
/// instance with the endpoint URL's token.
async fn pump(stack: &Stack) -> Vec<(String, WebhookResponse)> {
    let mut all = Vec::new();
    for _ in 0..6 {
        let webhooks: Vec<RecordedWebhook> = stack.sandbox.take_webhooks();
        if webhooks.is_empty() {
            return all;
        }
        for webhook in webhooks {
            let answer = if webhook.tracker == "salesforce" {
                deliver_salesforce(stack, webhook.body.clone()).await
            } else {
                stack.deliver_any(&webhook).await
            };
            all.push((webhook.tracker.clone(), answer));
        }
    }
    panic!("trackers still produce webhooks after 6 rounds: a sync loop. Answers: {all:#?}");
}

fn case_fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_and_salesforce_converge() {
    let (stack, instance) = start().await;
    let proxy_id = instance.proxy.clone().unwrap().id;
    assert_eq!(proxy_id, "005000000000001AAA");

    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Export times out", "body": "CSV export of 10k rows fails."})),
        )
        .await;
    let list = outcomes(&pump(&stack).await);
    assert!(
        list.contains(&"github:synced:created".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"salesforce:skipped:proxy_author".to_owned()),
        "{list:?}"
    );

    let records = stack.sandbox.salesforce().records();
    let case = records
        .iter()
        .find(|r| r.sobject_type == "Case")
        .expect("the Case");
    assert_eq!(case.field("Subject"), "Export times out");
    assert_eq!(case.field("Status"), "New");
    assert_eq!(case.field("CreatedById"), proxy_id);
    let link = records
        .iter()
        .find(|r| r.sobject_type == "CaseComment")
        .expect("the link comment on the Case");
    assert!(link.field("CommentBody").contains("GitHub"), "{link:?}");

    // A person closes the Case and comments on it; both reach GitHub.
    let agent = &stack.sandbox_config.salesforce.users[1].id;
    let control = stack.sandbox.salesforce();
    let (_, message) = control.write_as(
        agent,
        "Case",
        Some(&case.id),
        case_fields(&[("Status", "Closed")]),
    );
    let answer = deliver_salesforce(&stack, message.unwrap().body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let (_, comment) = control.write_as(
        agent,
        "CaseComment",
        None,
        case_fields(&[
            ("ParentId", &case.id),
            ("CommentBody", "Reproduced with 12k rows."),
        ]),
    );
    let answer = deliver_salesforce(&stack, comment.unwrap().body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let list = outcomes(&pump(&stack).await);
    assert!(!list.iter().any(|o| o.contains(":synced:")), "{list:?}");

    let github = stack.sandbox.state().github;
    let issue = github.issues.iter().find(|i| i.repo == REPO).unwrap();
    assert_eq!(issue.state, "closed");
    assert!(
        github
            .comments
            .iter()
            .any(|c| c.body.contains("Reproduced with 12k rows.")),
        "{:?}",
        github.comments
    );

    // The rendered answer is the SOAP acknowledgement.
    let rendered = stack.pipeline.render("salesforce", &answer);
    assert!(
        rendered.body.contains("<Ack>true</Ack>"),
        "{}",
        rendered.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_rejected() {
    let (stack, _) = start().await;
    let sample = String::from_utf8(sample("case.updated.xml")).unwrap();

    let other_org = sample.replace("00D000000000042AAA", "00D000000000099AAA");
    let answer = deliver_salesforce(&stack, other_org.into_bytes()).await;
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    assert_eq!(answer.body["error"], "wrong_organization");
    let rendered = stack.pipeline.render("salesforce", &answer);
    assert!(
        rendered.body.contains("<faultstring>OrganizationId"),
        "{}",
        rendered.body
    );

    let lead = sample.replace("sf:Case\"", "sf:Lead\"");
    let answer = deliver_salesforce(&stack, lead.into_bytes()).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message.contains("\"Lead\"") && message.contains("sobject_types"),
        "{message}"
    );

    let broken = sample.replace("</notifications>", "</notification>");
    let answer = deliver_salesforce(&stack, broken.into_bytes()).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("invalid XML"),
        "{:?}",
        answer.body
    );

    let no_author = sample.replace(
        "<sf:LastModifiedById>005000000000002AAA</sf:LastModifiedById>",
        "",
    );
    let answer = deliver_salesforce(&stack, no_author.into_bytes()).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("LastModifiedById"),
        "{:?}",
        answer.body
    );

    let unsigned = InboundRequest {
        body: sample.clone().into_bytes(),
        ..InboundRequest::default()
    };
    let answer = stack
        .deliver_request("salesforce", INSTANCE, unsigned)
        .await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);

    assert!(stack.sandbox.state().github.issues.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_notification_redelivered_once() {
    let (stack, _) = start().await;
    let agent = &stack.sandbox_config.salesforce.users[1].id;
    let (_, message) = stack.sandbox.salesforce().write_as(
        agent,
        "Case",
        None,
        case_fields(&[
            ("Subject", "Printer offline"),
            ("Description", "Floor 2."),
            ("Status", "New"),
        ]),
    );
    let body = message.unwrap().body;

    // Secrets Manager cannot be reached: nothing is stored, and Salesforce gets a fault.
    let closed = format!("http://127.0.0.1:{}", proxysync_tests::free_port());
    let dynamo = proxysync_tests::moto_endpoint().await;
    let broken = stack.pipeline_with(&dynamo, &closed, &[]).await;
    let request = request(body.clone());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let answer = broken
        .handle_webhook("salesforce", INSTANCE, &request, deadline)
        .await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    let rendered = broken.render("salesforce", &answer);
    assert!(rendered.body.contains("soapenv:Fault"), "{}", rendered.body);
    assert!(!rendered.body.contains("<Ack>"), "{}", rendered.body);
    assert!(stack.sandbox.state().github.issues.is_empty());

    // Salesforce redelivers the same message: it applies once, and again is a duplicate.
    let answer = deliver_salesforce(&stack, body.clone()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = deliver_salesforce(&stack, body).await;
    assert_eq!(answer.body["outcome"], "duplicate", "{:?}", answer.body);
    let issues = stack.sandbox.state().github.issues;
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].title, "Printer offline");
}

/// Builds the message Salesforce sends when it regroups pending notifications: the envelope of
/// the first message around the `Notification` elements of all of them.
fn regroup(messages: &[&[u8]]) -> Vec<u8> {
    const OPEN: &str = "<Notification>";
    const CLOSE: &str = "</Notification>";
    let texts: Vec<String> = messages
        .iter()
        .map(|message| String::from_utf8(message.to_vec()).unwrap())
        .collect();
    let mut notifications = String::new();
    for text in &texts {
        let mut rest = text.as_str();
        while let Some(start) = rest.find(OPEN) {
            let end =
                start + rest[start..].find(CLOSE).expect("a closed Notification") + CLOSE.len();
            notifications.push_str(&rest[start..end]);
            rest = &rest[end..];
        }
    }
    let first = &texts[0];
    let start = first.find(OPEN).expect("a Notification");
    let end = first.rfind(CLOSE).unwrap() + CLOSE.len();
    format!("{}{notifications}{}", &first[..start], &first[end..]).into_bytes()
}

/// Creates a GitHub issue, syncs it to a Case, and returns the Case id.
async fn linked_case(stack: &Stack, title: &str) -> String {
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": title, "body": "Details."})),
        )
        .await;
    let list = outcomes(&pump(stack).await);
    assert!(
        list.contains(&"github:synced:created".to_owned()),
        "{list:?}"
    );
    let records = stack.sandbox.salesforce().records();
    records
        .iter()
        .find(|r| r.sobject_type == "Case" && r.field("Subject") == title)
        .expect("the Case")
        .id
        .clone()
}

/// Writes a CaseComment as the agent and returns its outbound message.
fn agent_comment(stack: &Stack, case_id: &str, text: &str) -> Vec<u8> {
    let agent = &stack.sandbox_config.salesforce.users[1].id;
    let (_, message) = stack.sandbox.salesforce().write_as(
        agent,
        "CaseComment",
        None,
        case_fields(&[("ParentId", case_id), ("CommentBody", text)]),
    );
    message.expect("CaseComment has an outbound message").body
}

fn github_comments_with(stack: &Stack, text: &str) -> usize {
    stack
        .sandbox
        .state()
        .github
        .comments
        .iter()
        .filter(|c| c.body.contains(text))
        .count()
}

fn decisions(answer: &WebhookResponse) -> Vec<String> {
    answer.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|event| {
            let detail = event["action"]
                .as_str()
                .or(event["status"].as_str())
                .unwrap_or_default();
            format!("{}:{detail}", event["decision"].as_str().unwrap_or("?"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regrouped_notification_applied_once() {
    let (stack, _) = start().await;
    let case_id = linked_case(&stack, "Invoice PDF is blank").await;

    // Message A carries one comment, which reaches GitHub. Its acknowledgement is then lost.
    let first = agent_comment(&stack, &case_id, "Blank since Monday.");
    let answer = deliver_salesforce(&stack, first.clone()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(github_comments_with(&stack, "Blank since Monday."), 1);

    // Salesforce regroups the comment with a newer one into message B.
    let second = agent_comment(&stack, &case_id, "Only for invoices over 10 pages.");
    let regrouped = regroup(&[&first, &second]);
    let answer = deliver_salesforce(&stack, regrouped.clone()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["outcome"], "processed", "{:?}", answer.body);
    assert_eq!(
        decisions(&answer),
        vec!["duplicate:done", "synced:comment_added"],
        "{:?}",
        answer.body
    );
    let rendered = stack.pipeline.render("salesforce", &answer);
    assert!(
        rendered.body.contains("<Ack>true</Ack>"),
        "{}",
        rendered.body
    );
    assert_eq!(github_comments_with(&stack, "Blank since Monday."), 1);
    assert_eq!(
        github_comments_with(&stack, "Only for invoices over 10 pages."),
        1
    );

    // Message B again, and each message alone: nothing is applied twice.
    for body in [regrouped, second, first] {
        let answer = deliver_salesforce(&stack, body).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(answer.body["outcome"], "duplicate", "{:?}", answer.body);
    }
    assert_eq!(github_comments_with(&stack, "Blank since Monday."), 1);
    assert_eq!(
        github_comments_with(&stack, "Only for invoices over 10 pages."),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_notification_not_acknowledged() {
    let (stack, _) = start().await;
    let case_id = linked_case(&stack, "Dashboard shows no data").await;
    let busy = agent_comment(&stack, &case_id, "Empty for the EU region.");
    let fresh = agent_comment(&stack, &case_id, "The US region is fine.");
    let envelope = proxysync_core::trackers::salesforce::soap::parse(&busy).unwrap();
    let busy_id = format!("notification:{}", envelope.notifications[0].id);

    // Another invocation has claimed the first notification and not finished it.
    let key = format!("delivery#{INSTANCE}#{busy_id}");
    let claim = stack.store.claim(&key, 60_000).await.unwrap();
    assert_eq!(claim, proxysync_core::store::Claim::Claimed);
    let regrouped = regroup(&[&busy, &fresh]);
    let answer = deliver_salesforce(&stack, regrouped.clone()).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.body["error"], "in_progress", "{:?}", answer.body);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains(&busy_id), "{message}");
    assert_eq!(
        decisions(&answer),
        vec!["duplicate:in_progress", "synced:comment_added"],
        "{:?}",
        answer.body
    );
    let rendered = stack.pipeline.render("salesforce", &answer);
    assert!(rendered.body.contains("soapenv:Fault"), "{}", rendered.body);
    assert!(!rendered.body.contains("<Ack>"), "{}", rendered.body);
    assert_eq!(github_comments_with(&stack, "The US region is fine."), 1);
    assert_eq!(github_comments_with(&stack, "Empty for the EU region."), 0);

    // The other invocation finishes, so the redelivered message is acknowledged and applies nothing.
    stack.store.finish(&key).await.unwrap();
    let answer = deliver_salesforce(&stack, regrouped).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["outcome"], "duplicate", "{:?}", answer.body);
    let rendered = stack.pipeline.render("salesforce", &answer);
    assert!(
        rendered.body.contains("<Ack>true</Ack>"),
        "{}",
        rendered.body
    );
    assert_eq!(github_comments_with(&stack, "The US region is fine."), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_refreshed_once() {
    let (stack, _) = start().await;
    stack.sandbox.salesforce().expire_access_tokens();
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues"),
            Some(json!({"title": "Badge reader beeps", "body": "Every 5 minutes."})),
        )
        .await;
    let list = outcomes(&pump(&stack).await);
    assert!(
        list.contains(&"github:synced:created".to_owned()),
        "{list:?}"
    );
    let records = stack.sandbox.salesforce().records();
    assert!(
        records
            .iter()
            .any(|r| r.field("Subject") == "Badge reader beeps"),
        "{records:?}"
    );
    let userinfo_401 = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.tracker == "salesforce" && r.status == 401)
        .count();
    assert_eq!(userinfo_401, 1, "one call failed before the refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_refreshed_for_link() {
    let (stack, _) = start().await;
    let agent = &stack.sandbox_config.salesforce.users[1].id;
    let (case_id, message) = stack.sandbox.salesforce().write_as(
        agent,
        "Case",
        None,
        case_fields(&[("Subject", "Door stays open"), ("Status", "New")]),
    );
    // The Case reaches GitHub with a valid GitHub token; only the link comment that follows
    // goes to Salesforce, whose access token has expired meanwhile.
    stack.sandbox.salesforce().expire_access_tokens();
    let answer = deliver_salesforce(&stack, message.unwrap().body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    let records = stack.sandbox.salesforce().records();
    let link = records
        .iter()
        .find(|r| r.sobject_type == "CaseComment" && r.field("ParentId") == case_id);
    assert!(
        link.is_some_and(|r| r.field("CommentBody").contains("GitHub")),
        "the link comment did not reach the Case: {records:?}"
    );
    let rejected = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.tracker == "salesforce" && r.status == 401)
        .count();
    assert_eq!(rejected, 1, "one call failed before the refresh");
}
