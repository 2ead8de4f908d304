//! Instances of the sandbox's other trackers (Zendesk, Azure DevOps, Jira Data Center,
//! ServiceNow with OAuth, Salesforce and HP ALM/QC), registered on a [`Stack`] with the proxy
//! user's real sandbox credentials, and delivery of the webhooks that need a URL token.

use proxysync_core::WebhookResponse;
use proxysync_core::model::{Instance, TrackerKind};
use proxysync_core::tracker::InboundRequest;
use serde_json::{Map, Value, json};
use tracker_sandbox::RecordedWebhook;

use crate::Stack;

/// The ServiceNow OAuth client that the sandbox accepts.
pub const SERVICENOW_CLIENT_ID: &str = "sandbox-servicenow-client";
pub const SERVICENOW_CLIENT_SECRET: &str = "sandbox-servicenow-client-secret";
/// The Zendesk group and HP ALM/QC project that the sandbox users can reach.
pub const ZENDESK_GROUP: &str = "360001";
pub const ALM_PROJECT: &str = "DEFAULT/Example_Project";

/// An instance registered on the stack, with the secret value stored for it.
pub struct Registered {
    pub instance: Instance,
    pub secret: Value,
}

impl Registered {
    /// Returns the secret's `webhook_secret`, or "" for a tracker without webhooks.
    pub fn webhook_secret(&self) -> String {
        self.secret["webhook_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

fn now_secs() -> i64 {
    proxysync_core::time_util::now_ms() / 1000
}

impl Stack {
    async fn register(
        &self,
        id: &str,
        tracker: TrackerKind,
        base_url: String,
        secret: Value,
        options: Map<String, Value>,
    ) -> Registered {
        let instance = self
            .add_instance(id, tracker, base_url, secret.clone(), options)
            .await;
        Registered { instance, secret }
    }

    /// Registers the sandbox's Zendesk with an API token.
    pub async fn add_zendesk(&self, id: &str) -> Registered {
        let config = &self.sandbox_config.zendesk;
        let proxy = &config.users[0];
        let secret = json!({"email": proxy.email, "api_token": proxy.api_token,
                            "webhook_secret": config.webhook_secret});
        let url = self.sandbox.zendesk_url();
        self.register(id, TrackerKind::Zendesk, url, secret, Map::new())
            .await
    }

    /// Registers the sandbox's Azure DevOps with a personal access token. Its service hooks
    /// authenticate with basic `user:password`, which is the webhook secret.
    pub async fn add_azure_devops(&self, id: &str) -> Registered {
        let config = &self.sandbox_config.azure_devops;
        let secret =
            json!({"token": config.users[0].pat, "webhook_secret": config.hook_basic_auth});
        let url = self.sandbox.azure_devops_url();
        self.register(id, TrackerKind::AzureDevops, url, secret, Map::new())
            .await
    }

    /// Registers the sandbox's Jira Data Center with a personal access token.
    pub async fn add_jira_dc(&self, id: &str) -> Registered {
        let config = &self.sandbox_config.jira_dc;
        let secret =
            json!({"token": config.users[0].token, "webhook_secret": config.webhook_secret});
        let url = self.sandbox.jira_dc_url();
        self.register(id, TrackerKind::JiraDc, url, secret, Map::new())
            .await
    }

    /// Registers the sandbox's ServiceNow with OAuth tokens that the sandbox issues now and
    /// that expire in an hour.
    pub async fn add_servicenow_oauth(&self, id: &str) -> Registered {
        let proxy = &self.sandbox_config.servicenow.users[0];
        let (access, refresh) = self
            .sandbox
            .servicenow()
            .issue_tokens(&proxy.user_name, SERVICENOW_CLIENT_ID);
        let secret = json!({
            "client_id": SERVICENOW_CLIENT_ID,
            "client_secret": SERVICENOW_CLIENT_SECRET,
            "refresh_token": refresh,
            "access_token": access,
            "access_token_expires_at": now_secs() + 3600,
            "webhook_secret": self.sandbox_config.servicenow.webhook_secret,
        });
        let url = self.sandbox.servicenow_url();
        self.register(id, TrackerKind::Servicenow, url, secret, Map::new())
            .await
    }

    /// Registers the sandbox's Salesforce org for Cases and CaseComments, with an access token
    /// from the sandbox's token endpoint and `webhook_secret` as the endpoint URL's token.
    pub async fn add_salesforce(&self, id: &str, webhook_secret: &str) -> Registered {
        let config = &self.sandbox_config.salesforce;
        let refresh = self
            .sandbox
            .salesforce()
            .issue_refresh_token(&config.users[0].username);
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "refresh_token"),
                ("client_id", config.client_id.as_str()),
                ("client_secret", config.client_secret.as_str()),
                ("refresh_token", refresh.as_str()),
            ])
            .finish();
        let token: Value = reqwest::Client::new()
            .post(format!(
                "{}/services/oauth2/token",
                self.sandbox.salesforce_url()
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("Salesforce sandbox token call")
            .json()
            .await
            .expect("Salesforce sandbox token response");

        let secret = json!({
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "refresh_token": refresh,
            "access_token": token["access_token"],
            "access_token_expires_at": now_secs() + 7200,
            "webhook_secret": webhook_secret,
        });
        let mut options = Map::new();
        options.insert("organization_id".to_owned(), json!(config.organization_id));
        options.insert("sobject_types".to_owned(), json!(["Case", "CaseComment"]));
        // `proxysync instance add` fills in the default, which the token refresher needs.
        options.insert(
            "session_timeout_secs".to_owned(),
            json!(proxysync_core::trackers::salesforce::DEFAULT_SESSION_TIMEOUT_SECS),
        );
        let url = self.sandbox.salesforce_url();
        self.register(id, TrackerKind::Salesforce, url, secret, options)
            .await
    }

    /// Registers the sandbox's HP ALM/QC for [`ALM_PROJECT`] with the proxy user's password.
    pub async fn add_hp_alm(&self, id: &str) -> Registered {
        let proxy = &self.sandbox_config.hp_alm.users[0];
        let secret = json!({"username": proxy.username, "password": proxy.password});
        let mut options = Map::new();
        options.insert("projects".to_owned(), json!([ALM_PROJECT]));
        let url = self.sandbox.hp_alm_url();
        self.register(id, TrackerKind::HpAlm, url, secret, options)
            .await
    }

    /// Delivers a recorded webhook to `route`/`instance` with its headers, and with
    /// `?token=url_token` when one is given (Salesforce's endpoint URL token).
    pub async fn deliver_to_instance(
        &self,
        route: &str,
        instance: &str,
        webhook: &RecordedWebhook,
        url_token: Option<&str>,
    ) -> WebhookResponse {
        let query = url_token
            .map(|token| vec![("token".to_owned(), token.to_owned())])
            .unwrap_or_default();
        let request = InboundRequest {
            headers: webhook.headers.clone(),
            query,
            body: webhook.body.clone(),
        };
        self.deliver_request(route, instance, request).await
    }
}
