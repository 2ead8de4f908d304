//! Bad requests on every webhook route: GitHub, Jira Cloud, Jira Data Center, ServiceNow,
//! Zendesk, Azure DevOps and Salesforce. The credential cases are missing and invalid
//! credentials, a body changed after signing, and on Zendesk a stale signature timestamp. The
//! other cases are a body of the wrong shape, an empty body, a body over the size limit, an
//! unknown instance, an instance sent to another tracker's route, and a method other than
//! POST. Each gets its status and a one-line error that names the problem and the fix
//! (Salesforce's in a SOAP fault), and writes nothing to DynamoDB or to any tracker.

use base64::Engine;
use lambda_http::Body;
use proxysync_core::WebhookResponse;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers::signature::sign_hex_hmac;
use proxysync_core::trackers::{servicenow, zendesk};
use proxysync_tests::Stack;
use time::format_description::well_known::Rfc3339;

/// How a route's requests carry their credentials.
#[derive(Clone, Copy, Debug)]
enum Auth {
    /// GitHub's hex HMAC of the body in `X-Hub-Signature-256`.
    Github,
    /// Jira's hex HMAC of the body in `X-Hub-Signature` (Cloud and Data Center).
    JiraHmac,
    /// The webhook secret as the URL's `token` query parameter (Jira Data Center versions
    /// without webhook secrets, and Salesforce).
    UrlToken,
    /// The business rule's base64 HMAC of the body in `X-Proxysync-Signature`.
    Servicenow,
    /// Zendesk's base64 HMAC of the timestamp and body, signed `age_secs` ago.
    Zendesk { age_secs: i64 },
    /// Basic `user:password` of the service hook, which does not cover the body.
    AzureBasic,
}

/// Builds the request that a tracker sends with `body`, authenticated with `secret`.
fn authorize(auth: Auth, secret: &str, body: &[u8]) -> InboundRequest {
    let header = |name: &str, value: String| vec![(name.to_owned(), value)];
    let (headers, query) = match auth {
        Auth::Github => {
            let mut headers = header("x-hub-signature-256", sign_hex_hmac(secret, body));
            headers.push(("x-github-event".to_owned(), "issues".to_owned()));
            headers.push((
                "x-github-delivery".to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ));
            (headers, Vec::new())
        }
        Auth::JiraHmac => (
            header("x-hub-signature", sign_hex_hmac(secret, body)),
            Vec::new(),
        ),
        Auth::UrlToken => (
            header("content-type", "text/xml; charset=utf-8".to_owned()),
            vec![("token".to_owned(), secret.to_owned())],
        ),
        Auth::Servicenow => (
            header("x-proxysync-signature", servicenow::sign(secret, body)),
            Vec::new(),
        ),
        Auth::Zendesk { age_secs } => {
            let at = (time::OffsetDateTime::now_utc() - time::Duration::seconds(age_secs))
                .replace_nanosecond(0)
                .unwrap()
                .format(&Rfc3339)
                .unwrap();
            let mut headers = header(
                "x-zendesk-webhook-signature",
                zendesk::sign(secret, &at, body),
            );
            headers.push(("x-zendesk-webhook-signature-timestamp".to_owned(), at));
            headers.push((
                "x-zendesk-webhook-invocation-id".to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ));
            (headers, Vec::new())
        }
        Auth::AzureBasic => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            (
                header("authorization", format!("Basic {encoded}")),
                Vec::new(),
            )
        }
    };
    InboundRequest {
        headers,
        query,
        body: body.to_vec(),
    }
}

/// One route and instance under test.
struct Route {
    route: &'static str,
    instance: String,
    /// Names of the instance's tracker that a response on another route must not contain.
    tracker_names: &'static [&'static str],
    /// A route of another tracker, for the instance sent to the wrong route.
    other_route: &'static str,
    auth: Auth,
    secret: String,
    wrong_secret: String,
    /// A real sample webhook of the tracker, accepted when signed with `secret`.
    sample: Vec<u8>,
    /// A well-formed body that is not this tracker's webhook shape.
    foreign: Vec<u8>,
    /// Words of the fix that the responses to `foreign` and to an empty body name.
    shape_fix: &'static str,
    empty_fix: &'static str,
}

/// One bad request and the response it must get.
struct Case {
    name: String,
    route: &'static str,
    instance: String,
    request: InboundRequest,
    status: u16,
    code: &'static str,
    /// Words of the message that name the problem and the fix.
    words: Vec<&'static str>,
    /// Words that the message must not contain.
    hidden: Vec<&'static str>,
}

const MISSING: [&str; 2] = ["missing", "set the webhook secret on the tracker"];
const INVALID: [&str; 2] = ["invalid signature", "differs from the instance secret"];
/// The fix that a body that is not the route's payload gets, unless its message has a better one.
const PAYLOAD_FIX: &str = "only its own tracker's webhook payload";
const MALFORMED: [&str; 2] = ["malformed body", PAYLOAD_FIX];
const TOO_LARGE: [&str; 2] = ["exceeds the limit", "PROXYSYNC_MAX_BODY_BYTES"];
const UNKNOWN: [&str; 2] = ["unknown instance", "`proxysync instance"];

fn sample(path: &str) -> Vec<u8> {
    let path = proxysync_tests::repo_root().join("events").join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

impl Route {
    fn case(
        &self,
        name: &str,
        request: InboundRequest,
        status: u16,
        code: &'static str,
        words: &[&'static str],
    ) -> Case {
        Case {
            name: format!("{} {}: {name}", self.route, self.instance),
            route: self.route,
            instance: self.instance.clone(),
            request,
            status,
            code,
            words: words.to_vec(),
            hidden: Vec::new(),
        }
    }

    /// Returns the bad requests that every route rejects.
    fn common_cases(&self, max_body_bytes: usize) -> Vec<Case> {
        let signed = |body: &[u8]| authorize(self.auth, &self.secret, body);
        let mut cases = Vec::new();

        let mut unsigned = signed(&self.sample);
        unsigned.headers.retain(|(name, _)| name == "content-type");
        unsigned.query.clear();
        cases.push(self.case(
            "no credentials",
            unsigned,
            401,
            "missing_signature",
            &MISSING,
        ));

        let wrong = authorize(self.auth, &self.wrong_secret, &self.sample);
        cases.push(self.case("wrong secret", wrong, 401, "bad_signature", &INVALID));

        // A URL token or a basic password does not cover the body, so only signatures can
        // tell a changed body.
        if !matches!(self.auth, Auth::UrlToken | Auth::AzureBasic) {
            let mut changed = signed(&self.sample);
            changed.body.extend_from_slice(b"\n");
            cases.push(self.case("body changed", changed, 401, "bad_signature", &INVALID));
        }

        let foreign = signed(&self.foreign);
        let words = ["malformed body", self.shape_fix];
        cases.push(self.case("wrong shape", foreign, 400, "malformed", &words));
        let empty = signed(b"");
        let words = ["malformed body", self.empty_fix];
        cases.push(self.case("empty body", empty, 400, "malformed", &words));

        let mut huge = self.sample.clone();
        huge.resize(max_body_bytes + 1, b' ');
        let huge = signed(&huge);
        cases.push(self.case("over the limit", huge, 413, "too_large", &TOO_LARGE));

        let mut unknown = self.case(
            "unknown instance",
            signed(&self.sample),
            404,
            "unknown_instance",
            &UNKNOWN,
        );
        unknown.instance = "no-such-instance".to_owned();
        cases.push(unknown);

        let mut elsewhere = self.case(
            "another tracker's route",
            signed(&self.sample),
            404,
            "unknown_instance",
            &UNKNOWN,
        );
        elsewhere.route = self.other_route;
        elsewhere.hidden = self.tracker_names.to_vec();
        cases.push(elsewhere);
        cases
    }
}

/// Counts the requests that could have changed a tracker: every method but GET and the
/// sign-in calls.
fn tracker_writes(stack: &Stack) -> usize {
    stack
        .sandbox
        .requests()
        .iter()
        .filter(|request| request.method != "GET")
        .filter(|request| !request.path.contains("oauth"))
        .count()
}

/// Returns the text of the `<faultstring>` of a SOAP fault, with XML's entities decoded.
fn faultstring(xml: &str) -> String {
    let start = xml.find("<faultstring>").expect("a faultstring") + "<faultstring>".len();
    let end = xml.find("</faultstring>").expect("the faultstring's end");
    xml[start..end]
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Checks the rendered response: one line of JSON, or a SOAP fault on the Salesforce route,
/// that carries `message`.
fn assert_rendered(stack: &Stack, name: &str, route: &str, answer: &WebhookResponse) {
    let message = answer.body["message"].as_str().unwrap_or_default();
    let rendered = stack.pipeline.render(route, answer);
    assert_eq!(rendered.status, answer.status, "{name}");
    if route == "salesforce" {
        assert!(
            rendered.body.contains("<soapenv:Fault>"),
            "{name}: {}",
            rendered.body
        );
        assert_eq!(faultstring(&rendered.body), message, "{name}");
    } else {
        assert!(!rendered.body.contains('\n'), "{name}: {}", rendered.body);
        let parsed: serde_json::Value = serde_json::from_str(&rendered.body)
            .unwrap_or_else(|e| panic!("{name}: answer is not JSON ({e}): {}", rendered.body));
        assert_eq!(parsed["message"], message, "{name}");
    }
}

async fn assert_rejected(stack: &Stack, case: Case) {
    let name = &case.name;
    let items = stack.count_items("").await;
    let writes = tracker_writes(stack);
    let answer = stack
        .deliver_request(case.route, &case.instance, case.request)
        .await;

    assert_eq!(answer.status, case.status, "{name}: {}", answer.body);
    // Azure DevOps disables a service hook subscription that gets 410.
    assert_ne!(answer.status, 410, "{name}");
    assert_eq!(answer.body["error"], case.code, "{name}: {}", answer.body);
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{name}: no message");
    assert!(!message.contains('\n'), "{name}: {message:?}");
    for word in &case.words {
        assert!(
            message.contains(word),
            "{name}: {word:?} not in {message:?}"
        );
    }
    let lower = message.to_lowercase();
    for word in &case.hidden {
        assert!(!lower.contains(word), "{name}: {word:?} in {message:?}");
    }
    assert_rendered(stack, name, case.route, &answer);

    assert_eq!(
        stack.count_items("").await,
        items,
        "{name} wrote to DynamoDB"
    );
    assert_eq!(tracker_writes(stack), writes, "{name} wrote to a tracker");
    assert!(
        stack.sandbox.take_webhooks().is_empty(),
        "{name} changed a tracker"
    );
}

/// Sends GET and PUT through the function layer, which rejects them before the pipeline.
async fn assert_post_only(stack: &Stack, route: &str, instance: &str, body: &[u8]) {
    for method in ["GET", "PUT"] {
        let name = format!("{route} {instance}: {method}");
        let items = stack.count_items("").await;
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("/webhooks/{route}/{instance}"))
            .body(Body::Binary(body.to_vec()))
            .unwrap();
        let response = proxysync_core::lambda::handle(&stack.pipeline, route, request).await;
        assert_eq!(response.status(), 405, "{name}");
        let text = match response.body() {
            Body::Text(text) => text.clone(),
            other => panic!("{name}: body {other:?}"),
        };
        let message = if route == "salesforce" {
            faultstring(&text)
        } else {
            assert!(!text.contains('\n'), "{name}: {text}");
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed["error"], "method_not_allowed", "{name}: {text}");
            parsed["message"].as_str().unwrap_or_default().to_owned()
        };
        assert!(message.contains(method), "{name}: {message}");
        assert!(message.contains("POST"), "{name}: {message}");
        assert_eq!(
            stack.count_items("").await,
            items,
            "{name} wrote to DynamoDB"
        );
    }
}

/// Runs every case of `route` and `extra`, the non-POST methods, and last the sample signed
/// with the right secret, which must be accepted so that the rejections above are the
/// credentials' and body's doing.
async fn check_route(stack: &Stack, route: Route, extra: Vec<Case>) {
    let limit = stack.pipeline.settings().max_body_bytes;
    for case in route.common_cases(limit).into_iter().chain(extra) {
        assert_rejected(stack, case).await;
    }
    assert_post_only(stack, route.route, &route.instance, &route.sample).await;

    let good = authorize(route.auth, &route.secret, &route.sample);
    let answer = stack
        .deliver_request(route.route, &route.instance, good)
        .await;
    assert_eq!(answer.status, 200, "{}: {}", route.route, answer.body);
}

fn github_sample() -> Vec<u8> {
    sample("github/issues.opened.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_route_rejects_bad_input() {
    let stack = Stack::start().await;
    let route = Route {
        route: "github",
        instance: "acme-github".to_owned(),
        // The instance id itself contains "github", so only the tracker as a word is checked.
        tracker_names: &["github instance"],
        other_route: "zendesk",
        auth: Auth::Github,
        secret: stack.sandbox_config.github.webhook_secret.clone(),
        wrong_secret: "not-the-github-secret".to_owned(),
        sample: github_sample(),
        foreign: sample("jira/comment_created.json"),
        shape_fix: PAYLOAD_FIX,
        // An empty body is most often a form-encoded webhook without its payload field.
        empty_fix: "content type to application/json",
    };
    check_route(&stack, route, Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_cloud_route_rejects_bad_input() {
    let stack = Stack::start().await;
    let route = Route {
        route: "jira",
        instance: "acme-jira".to_owned(),
        tracker_names: &["jira instance", "jira cloud"],
        other_route: "github",
        auth: Auth::JiraHmac,
        secret: stack.sandbox_config.jira.webhook_secret.clone(),
        wrong_secret: "not-the-jira-secret".to_owned(),
        sample: sample("jira/comment_created.json"),
        foreign: github_sample(),
        shape_fix: PAYLOAD_FIX,
        empty_fix: PAYLOAD_FIX,
    };
    check_route(&stack, route, Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_dc_route_rejects_bad_input() {
    let stack = Stack::start().await;
    // Neutral ids, so that a message naming the instance cannot name its tracker by chance.
    let dc = stack.add_jira_dc("ops-tracker").await;
    let route = Route {
        route: "jira",
        instance: "ops-tracker".to_owned(),
        tracker_names: &["jira", "data center"],
        other_route: "github",
        auth: Auth::JiraHmac,
        secret: dc.webhook_secret(),
        wrong_secret: "not-the-jira-dc-secret".to_owned(),
        sample: sample("jira-dc/issue_created.json"),
        foreign: github_sample(),
        shape_fix: PAYLOAD_FIX,
        empty_fix: PAYLOAD_FIX,
    };
    // Data Center versions without webhook secrets put the secret in the URL instead.
    let wrong_token = authorize(Auth::UrlToken, "not-the-token", &route.sample);
    let mut token_cases = vec![route.case(
        "wrong URL token",
        wrong_token,
        401,
        "bad_signature",
        &INVALID,
    )];
    let foreign = authorize(Auth::UrlToken, &route.secret, &route.foreign);
    token_cases.push(route.case(
        "wrong shape with URL token",
        foreign,
        400,
        "malformed",
        &MALFORMED,
    ));
    check_route(&stack, route, token_cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_route_rejects_bad_input() {
    let stack = Stack::start().await;
    let snow = stack.add_servicenow_oauth("it-desk").await;
    let route = Route {
        route: "servicenow",
        instance: "it-desk".to_owned(),
        tracker_names: &["servicenow"],
        other_route: "github",
        auth: Auth::Servicenow,
        secret: snow.webhook_secret(),
        wrong_secret: "not-the-servicenow-secret".to_owned(),
        sample: sample("servicenow/incident.created.json"),
        foreign: sample("zendesk/ticket.created.json"),
        shape_fix: PAYLOAD_FIX,
        empty_fix: PAYLOAD_FIX,
    };
    check_route(&stack, route, Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_route_rejects_bad_input() {
    let stack = Stack::start().await;
    let desk = stack.add_zendesk("help-desk").await;
    let route = Route {
        route: "zendesk",
        instance: "help-desk".to_owned(),
        tracker_names: &["zendesk"],
        other_route: "github",
        auth: Auth::Zendesk { age_secs: 0 },
        secret: desk.webhook_secret(),
        wrong_secret: "not-the-zendesk-secret".to_owned(),
        sample: sample("zendesk/ticket.created.json"),
        foreign: sample("servicenow/incident.created.json"),
        // A JSON object without a ticket event's type points at the trigger template.
        shape_fix: "the template in infra/zendesk",
        empty_fix: PAYLOAD_FIX,
    };
    let replayed = authorize(
        Auth::Zendesk { age_secs: 600 },
        &route.secret,
        &route.sample,
    );
    let stale = route.case(
        "stale timestamp",
        replayed,
        401,
        "stale_timestamp",
        &["more than the 300 s allowed", "signature_max_age_secs"],
    );
    check_route(&stack, route, vec![stale]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_devops_route_rejects_bad_input() {
    let stack = Stack::start().await;
    let boards = stack.add_azure_devops("boards").await;
    let secret = boards.webhook_secret();
    let user = secret.split(':').next().unwrap_or_default();
    let route = Route {
        route: "azure-devops",
        instance: "boards".to_owned(),
        tracker_names: &["azure", "devops"],
        other_route: "github",
        auth: Auth::AzureBasic,
        wrong_secret: format!("{user}:not-the-password"),
        secret,
        sample: sample("azure-devops/workitem.created.json"),
        foreign: github_sample(),
        shape_fix: PAYLOAD_FIX,
        empty_fix: PAYLOAD_FIX,
    };
    check_route(&stack, route, Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_route_rejects_bad_input() {
    let stack = Stack::start().await;
    let org = stack
        .add_salesforce("crm", "url-token-of-the-crm-instance-0123")
        .await;
    let case_xml = String::from_utf8(sample("salesforce/case.updated.xml")).unwrap();
    let route = Route {
        route: "salesforce",
        instance: "crm".to_owned(),
        tracker_names: &["salesforce"],
        other_route: "github",
        auth: Auth::UrlToken,
        secret: org.webhook_secret(),
        wrong_secret: "not-the-url-token".to_owned(),
        sample: case_xml.clone().into_bytes(),
        // A JSON body is not a SOAP envelope.
        foreign: github_sample(),
        shape_fix: PAYLOAD_FIX,
        empty_fix: PAYLOAD_FIX,
    };
    let organization = &stack.sandbox_config.salesforce.organization_id;
    assert!(case_xml.contains(organization.as_str()), "sample's org");
    let other_org = case_xml.replace(organization.as_str(), "00D000000000099AAA");
    let lead = case_xml.replace("sf:Case\"", "sf:Lead\"");
    assert_ne!(lead, case_xml, "the sample's sObject type");
    let extra = vec![
        route.case(
            "wrong OrganizationId",
            authorize(Auth::UrlToken, &route.secret, other_org.as_bytes()),
            403,
            "wrong_organization",
            &["OrganizationId \"00D000000000099AAA\"", "organization_id"],
        ),
        route.case(
            "sObject type not configured",
            authorize(Auth::UrlToken, &route.secret, lead.as_bytes()),
            400,
            "malformed",
            &["\"Lead\"", "sobject_types"],
        ),
    ];
    check_route(&stack, route, extra).await;
}
