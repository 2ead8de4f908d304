//! Recorded webhook deliveries: signing, the outbox view served over HTTP, and forwarding to a
//! receiver URL.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::mpsc;

/// One of the two fake trackers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tracker {
    Github,
    Jira,
    #[serde(rename = "azure-devops")]
    AzureDevops,
    Zendesk,
    #[serde(rename = "jira-dc")]
    JiraDc,
    Servicenow,
    Salesforce,
    #[serde(rename = "hp-alm")]
    HpAlm,
}

impl Tracker {
    /// Returns "github" or "jira", the value of the `tracker` fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Tracker::Github => "github",
            Tracker::Jira => "jira",
            Tracker::AzureDevops => "azure-devops",
            Tracker::Zendesk => "zendesk",
            Tracker::JiraDc => "jira-dc",
            Tracker::Servicenow => "servicenow",
            Tracker::Salesforce => "salesforce",
            Tracker::HpAlm => "hp-alm",
        }
    }
}

impl fmt::Display for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tracker {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "github" => Ok(Tracker::Github),
            "jira" => Ok(Tracker::Jira),
            "azure-devops" => Ok(Tracker::AzureDevops),
            "zendesk" => Ok(Tracker::Zendesk),
            "jira-dc" => Ok(Tracker::JiraDc),
            "servicenow" => Ok(Tracker::Servicenow),
            "salesforce" => Ok(Tracker::Salesforce),
            "hp-alm" => Ok(Tracker::HpAlm),
            _ => Err(format!(
                "unknown tracker {value:?}: expected \"github\" or \"jira\""
            )),
        }
    }
}

/// A webhook delivery that the real tracker would have sent after a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedWebhook {
    /// "github" or "jira".
    pub tracker: String,
    /// Delivery headers in sending order, signature included.
    pub headers: Vec<(String, String)>,
    /// Raw JSON body, exactly the bytes the signature covers.
    pub body: Vec<u8>,
}

impl RecordedWebhook {
    /// Returns the value of the first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Parses the body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("recorded webhook bodies are serialized JSON")
    }
}

/// Returns the lowercase hex HMAC-SHA256 of `body` keyed with `secret`, the digest part of
/// GitHub's `X-Hub-Signature-256` and Jira's `X-Hub-Signature` headers.
pub(crate) fn hmac_sha256_hex(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A recorded webhook as `POST /_sandbox/webhooks/take` returns it: the body both as a UTF-8
/// string and as base64 of the exact signed bytes.
#[derive(Debug, Serialize)]
pub(crate) struct WebhookView {
    tracker: String,
    headers: Vec<(String, String)>,
    body: String,
    body_base64: String,
}

impl From<&RecordedWebhook> for WebhookView {
    fn from(webhook: &RecordedWebhook) -> Self {
        WebhookView {
            tracker: webhook.tracker.clone(),
            headers: webhook.headers.clone(),
            body: String::from_utf8_lossy(&webhook.body).into_owned(),
            body_base64: BASE64.encode(&webhook.body),
        }
    }
}

/// How long one forwarded delivery may take. GitHub gives up on a receiver after 10 seconds.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Queues of webhooks to POST to a receiver, one per tracker that has a forward URL.
#[derive(Debug, Default)]
pub(crate) struct Forwarders {
    github: Option<mpsc::UnboundedSender<RecordedWebhook>>,
    jira: Option<mpsc::UnboundedSender<RecordedWebhook>>,
    azure_devops: Option<mpsc::UnboundedSender<RecordedWebhook>>,
    zendesk: Option<mpsc::UnboundedSender<RecordedWebhook>>,
    jira_dc: Option<mpsc::UnboundedSender<RecordedWebhook>>,
    servicenow: Option<mpsc::UnboundedSender<RecordedWebhook>>,
    salesforce: Option<mpsc::UnboundedSender<RecordedWebhook>>,
}

impl Forwarders {
    /// Starts forwarding the webhooks of `tracker` to `url`, replacing an earlier URL, or stops
    /// forwarding when `url` is `None`. Must be called inside a Tokio runtime.
    pub(crate) fn set(&mut self, tracker: Tracker, url: Option<String>) {
        let sender = url.map(|url| spawn_forwarder(tracker, url));
        match tracker {
            Tracker::Github => self.github = sender,
            Tracker::Jira => self.jira = sender,
            Tracker::AzureDevops => self.azure_devops = sender,
            Tracker::Zendesk => self.zendesk = sender,
            Tracker::JiraDc => self.jira_dc = sender,
            Tracker::Servicenow => self.servicenow = sender,
            Tracker::Salesforce => self.salesforce = sender,
            // HP ALM/QC sends no webhooks, so there is nothing to forward.
            Tracker::HpAlm => {}
        }
    }

    /// Queues `webhook` for its tracker's receiver, if that tracker has one.
    pub(crate) fn send(&self, webhook: &RecordedWebhook) {
        let sender = match webhook.tracker.as_str() {
            "github" => &self.github,
            "azure-devops" => &self.azure_devops,
            "zendesk" => &self.zendesk,
            "jira-dc" => &self.jira_dc,
            "servicenow" => &self.servicenow,
            "salesforce" => &self.salesforce,
            _ => &self.jira,
        };
        if let Some(sender) = sender
            && sender.send(webhook.clone()).is_err()
        {
            tracing::warn!(tracker = %webhook.tracker, "webhook forwarder has stopped, so the delivery was dropped");
        }
    }
}

/// Spawns a task that POSTs each queued webhook to `url` in order, one at a time, and logs the
/// outcome. Like GitHub, it does not retry a failed delivery. The task ends when the sender is
/// dropped and the queue is empty.
fn spawn_forwarder(tracker: Tracker, url: String) -> mpsc::UnboundedSender<RecordedWebhook> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<RecordedWebhook>();
    let client = reqwest::Client::builder()
        .timeout(FORWARD_TIMEOUT)
        .build()
        .expect("an HTTP client with default TLS settings builds");
    tokio::spawn(async move {
        while let Some(webhook) = receiver.recv().await {
            deliver(&client, tracker, &url, webhook).await;
        }
    });
    sender
}

async fn deliver(client: &reqwest::Client, tracker: Tracker, url: &str, webhook: RecordedWebhook) {
    let delivery_id = webhook
        .header("X-GitHub-Delivery")
        .or_else(|| webhook.header("X-Atlassian-Webhook-Identifier"))
        .unwrap_or("")
        .to_owned();
    let mut request = client.post(url);
    for (name, value) in &webhook.headers {
        request = request.header(name, value);
    }
    match request.body(webhook.body).send().await {
        Ok(response) if response.status().is_success() => {
            tracing::info!(%tracker, %url, delivery = %delivery_id, status = response.status().as_u16(), "forwarded webhook");
        }
        Ok(response) => {
            tracing::warn!(%tracker, %url, delivery = %delivery_id, status = response.status().as_u16(), "webhook receiver returned an error status");
        }
        Err(error) => {
            tracing::warn!(%tracker, %url, delivery = %delivery_id, %error, "failed to forward webhook");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_github_documentation_vector() {
        // Example from GitHub's "Validating webhook deliveries" documentation.
        let digest = hmac_sha256_hex("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            digest,
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn tracker_parses_case_insensitively() {
        assert_eq!("GitHub".parse::<Tracker>(), Ok(Tracker::Github));
        assert_eq!("jira".parse::<Tracker>(), Ok(Tracker::Jira));
        assert!("gitlab".parse::<Tracker>().is_err());
    }
}
