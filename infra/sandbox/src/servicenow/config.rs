//! Users, OAuth clients and token settings of the fake ServiceNow instance.

use serde::{Deserialize, Serialize};

/// Configuration of the fake ServiceNow instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicenowConfig {
    pub users: Vec<ServicenowUser>,
    pub oauth_clients: Vec<OauthClient>,
    /// Key of the `X-Proxysync-Signature` HMAC that the business rule puts on recorded webhooks.
    pub webhook_secret: String,
    /// Lifetime of access tokens in seconds (ServiceNow's default is 1800).
    #[serde(default = "default_lifetime")]
    pub access_token_lifetime_secs: i64,
    /// Whether a refresh returns a new refresh token. The old one stays usable until
    /// the new one is first used, then gets `invalid_grant`.
    #[serde(default)]
    pub rotate_refresh_tokens: bool,
    /// Milliseconds the token endpoint waits after issuing tokens, before it responds.
    #[serde(default)]
    pub token_latency_ms: u64,
    /// Whether the business rule also posts work notes (the shipped script's default is no).
    #[serde(default)]
    pub send_work_notes: bool,
}

fn default_lifetime() -> i64 {
    1800
}

/// A `sys_user` record and its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicenowUser {
    pub sys_id: String,
    pub user_name: String,
    pub name: String,
    pub password: String,
}

/// An OAuth application registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OauthClient {
    pub client_id: String,
    pub client_secret: String,
}

impl ServicenowConfig {
    /// The demo instance: the proxy user `proxysync.bot`, the person `alice.agent`, and one
    /// OAuth client.
    pub fn demo() -> Self {
        ServicenowConfig {
            users: vec![
                ServicenowUser {
                    sys_id: "6816f79cc0a8016401c5a33be04be441".to_owned(),
                    user_name: "proxysync.bot".to_owned(),
                    name: "ProxySync Bot".to_owned(),
                    password: "sandbox-servicenow-password-bot".to_owned(),
                },
                ServicenowUser {
                    sys_id: "5137153cc611227c000bbd1bd8cd2005".to_owned(),
                    user_name: "alice.agent".to_owned(),
                    name: "Alice Agent".to_owned(),
                    password: "sandbox-servicenow-password-alice".to_owned(),
                },
            ],
            oauth_clients: vec![OauthClient {
                client_id: "sandbox-servicenow-client".to_owned(),
                client_secret: "sandbox-servicenow-client-secret".to_owned(),
            }],
            webhook_secret: "sandbox-servicenow-webhook-secret".to_owned(),
            access_token_lifetime_secs: default_lifetime(),
            rotate_refresh_tokens: false,
            token_latency_ms: 0,
            send_work_notes: false,
        }
    }
}
