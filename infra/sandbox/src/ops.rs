//! State behind the operations endpoints: token scopes, Jira permissions and the GitHub hook's
//! delivery log.

use std::collections::HashMap;

use serde::Serialize;

use crate::webhooks::RecordedWebhook;

/// The scopes every GitHub token has unless a test sets others.
pub(crate) const DEFAULT_GITHUB_SCOPES: &str = "repo";

/// The id of the one repository hook each sandbox repository has, as in `X-GitHub-Hook-ID`.
pub(crate) const GITHUB_HOOK_ID: u64 = 100_000_001;

/// One attempt to deliver a GitHub webhook, as the hook deliveries API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookDelivery {
    pub id: u64,
    /// The `X-GitHub-Delivery` value, shared by every attempt of one event.
    pub guid: String,
    /// RFC 3339 time of the attempt.
    pub delivered_at: String,
    pub redelivery: bool,
    /// The receiver's HTTP status, or 0 while no answer is recorded.
    pub status_code: u16,
    pub event: String,
    pub action: Option<String>,
}

/// Operations state, part of the sandbox's shared state.
#[derive(Debug, Default)]
pub(crate) struct OpsState {
    /// `x-oauth-scopes` values by GitHub login.
    github_scopes: HashMap<String, String>,
    /// Jira permission keys denied, by account id.
    jira_denied: HashMap<String, Vec<String>>,
    /// GitHub hook delivery attempts, oldest first.
    pub(crate) deliveries: Vec<HookDelivery>,
    /// The webhooks of the delivery attempts by guid, for redelivery.
    pub(crate) webhooks: HashMap<String, RecordedWebhook>,
    next_delivery_id: u64,
    /// The receiver URL the hook reports in its configuration.
    pub(crate) hook_url: Option<String>,
}

impl OpsState {
    /// Returns the scopes of `login`'s token.
    pub(crate) fn github_scopes(&self, login: &str) -> String {
        self.github_scopes
            .get(login)
            .cloned()
            .unwrap_or_else(|| DEFAULT_GITHUB_SCOPES.to_owned())
    }

    pub(crate) fn set_github_scopes(&mut self, login: &str, scopes: &str) {
        self.github_scopes
            .insert(login.to_owned(), scopes.to_owned());
    }

    /// Returns true unless `permission` was denied to `account_id`.
    pub(crate) fn jira_has(&self, account_id: &str, permission: &str) -> bool {
        self.jira_denied
            .get(account_id)
            .is_none_or(|denied| !denied.iter().any(|key| key == permission))
    }

    pub(crate) fn deny_jira(&mut self, account_id: &str, permission: &str) {
        self.jira_denied
            .entry(account_id.to_owned())
            .or_default()
            .push(permission.to_owned());
    }

    /// Logs a delivery attempt of a GitHub webhook with no answer yet.
    /// An event already delivered once is logged as a redelivery.
    pub(crate) fn record_github_delivery(&mut self, webhook: &RecordedWebhook) {
        let Some(guid) = webhook.header("X-GitHub-Delivery") else {
            return;
        };
        let redelivery = self.webhooks.contains_key(guid);
        let event = webhook.header("X-GitHub-Event").unwrap_or_default();
        let action = serde_json::from_slice::<serde_json::Value>(&webhook.body)
            .ok()
            .and_then(|body| body.get("action")?.as_str().map(str::to_owned));
        self.next_delivery_id += 1;
        let delivered_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.deliveries.push(HookDelivery {
            id: 200_000_000 + self.next_delivery_id,
            guid: guid.to_owned(),
            delivered_at,
            redelivery,
            status_code: 0,
            event: event.to_owned(),
            action,
        });
        self.webhooks.insert(guid.to_owned(), webhook.clone());
    }

    /// Sets the status of the newest attempt of `guid`; returns false when there is none.
    pub(crate) fn set_delivery_status(&mut self, guid: &str, status: u16) -> bool {
        match self.deliveries.iter_mut().rev().find(|d| d.guid == guid) {
            Some(delivery) => {
                delivery.status_code = status;
                true
            }
            None => false,
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = OpsState::default();
    }
}
