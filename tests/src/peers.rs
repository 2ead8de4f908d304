//! More tracker instances on a [`Stack`]: Jira Data Center, Zendesk and Azure DevOps
//! instances of the sandbox, registered and connected at run time, and delivery of any
//! tracker's recorded webhooks.

use proxysync_core::WebhookResponse;
use proxysync_core::model::{Connection, Direction, Endpoint, Instance, TrackerKind};
use proxysync_core::tracker::InboundRequest;
use serde_json::{Map, Value};
use tokio::time::Instant;
use tracker_sandbox::RecordedWebhook;

use crate::Stack;

/// Instance ids that [`Stack::deliver_any`] sends each sandbox tracker's webhooks to.
pub const INSTANCES: [(&str, &str, &str); 5] = [
    ("github", "github", "acme-github"),
    ("jira", "jira", "acme-jira"),
    ("jira-dc", "jira", "acme-jira-dc"),
    ("zendesk", "zendesk", "acme-zendesk"),
    ("azure-devops", "azure-devops", "acme-azure"),
];

/// Builds one side of a connection with no tracker settings.
pub fn endpoint(instance: &str, project: &str) -> Endpoint {
    Endpoint {
        instance: instance.to_owned(),
        project: project.to_owned(),
        ..Endpoint::default()
    }
}

impl Stack {
    /// Registers an instance as `proxysync instance add` does: stores `secret` in Secrets
    /// Manager, reads the proxy identity from the tracker and stores the instance.
    pub async fn add_instance(
        &self,
        id: &str,
        tracker: TrackerKind,
        base_url: String,
        secret: Value,
        options: Map<String, Value>,
    ) -> Instance {
        let secret_id = format!("{}/{id}", self.github_secret_id);
        self.secrets_client
            .create_secret()
            .name(&secret_id)
            .secret_string(secret.to_string())
            .send()
            .await
            .expect("create secret");
        let mut instance = Instance {
            id: id.to_owned(),
            tracker,
            base_url,
            secret: secret_id,
            proxy: None,
            options,
        };
        let proxy = self
            .pipeline
            .whoami(&instance)
            .await
            .unwrap_or_else(|e| panic!("whoami of the {tracker} proxy user: {e}"));
        instance.proxy = Some(proxy);
        self.store
            .put_instance(&instance)
            .await
            .expect("store instance");
        instance
    }

    /// Stores a connection between `a` and `b`, both ways.
    pub async fn add_connection(&self, id: &str, a: Endpoint, b: Endpoint) {
        let connection = Connection {
            id: id.to_owned(),
            a,
            b,
            direction: Direction::Both,
        };
        self.store
            .put_connection(&connection)
            .await
            .expect("store connection");
    }

    /// Delivers a request with headers, query parameters and body to `route`/`instance`.
    pub async fn deliver_request(
        &self,
        route: &str,
        instance: &str,
        request: InboundRequest,
    ) -> WebhookResponse {
        let request = InboundRequest {
            headers: request
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            ..request
        };
        let deadline = Instant::now() + self.pipeline.settings().sync_budget;
        self.pipeline
            .handle_webhook(route, instance, &request, deadline)
            .await
    }

    /// Delivers one recorded webhook of any sandbox tracker to the instance named in
    /// [`INSTANCES`].
    pub async fn deliver_any(&self, webhook: &RecordedWebhook) -> WebhookResponse {
        let (_, route, instance) = INSTANCES
            .iter()
            .find(|(tracker, _, _)| *tracker == webhook.tracker)
            .unwrap_or_else(|| panic!("no instance for sandbox tracker {}", webhook.tracker));
        let request = InboundRequest {
            headers: webhook.headers.clone(),
            body: webhook.body.clone(),
            ..InboundRequest::default()
        };
        self.deliver_request(route, instance, request).await
    }

    /// Delivers recorded webhooks of every tracker until none are left, at most `rounds`
    /// times, and returns each tracker with the pipeline response. Panics on a sync loop.
    pub async fn pump_any_until_quiet(&self, rounds: usize) -> Vec<(String, WebhookResponse)> {
        let mut all = Vec::new();
        for _ in 0..rounds {
            let webhooks = self.sandbox.take_webhooks();
            if webhooks.is_empty() {
                return all;
            }
            for webhook in webhooks {
                let answer = self.deliver_any(&webhook).await;
                all.push((webhook.tracker.clone(), answer));
            }
        }
        panic!(
            "trackers still produce webhooks after {rounds} rounds: a sync loop. Answers: {all:#?}"
        );
    }
}

/// Lists each delivered event as `tracker:decision:action-or-reason`, or
/// `tracker:outcome` for a delivery without events.
pub fn outcomes(answers: &[(String, WebhookResponse)]) -> Vec<String> {
    let mut list = Vec::new();
    for (tracker, answer) in answers {
        let events = answer.body["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if events.is_empty() {
            let outcome = answer.body["outcome"].as_str().unwrap_or("?");
            list.push(format!("{tracker}:{outcome}"));
        }
        for event in events {
            let detail = event["action"]
                .as_str()
                .or(event["reason"].as_str())
                .unwrap_or_default();
            let decision = event["decision"].as_str().unwrap_or("?");
            list.push(format!("{tracker}:{decision}:{detail}"));
        }
    }
    list
}

/// Sends a REST call to a sandbox tracker and returns the status and the JSON response.
pub async fn call(
    request: reqwest::RequestBuilder,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.expect("sandbox call");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
