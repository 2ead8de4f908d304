//! State shared by all request handlers.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::clock::LogicalClock;
use crate::config::SandboxConfig;
use crate::faults::Fault;
use crate::requests::RequestLog;
use crate::state::Store;
use crate::truncation::Truncation;
use crate::webhooks::{Forwarders, RecordedWebhook};

/// Base URLs that responses and webhook payloads link to.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// The GitHub API base, like https://api.github.com.
    pub(crate) github_api: String,
    /// The base of `html_url` links, like https://github.com.
    pub(crate) github_web: String,
    /// The Jira site base, like https://acme.atlassian.net.
    pub(crate) jira: String,
    /// The Azure DevOps base, like https://dev.azure.com (organizations are paths below it).
    pub(crate) azure_devops: String,
    /// The Zendesk account base, like https://acme.zendesk.com.
    pub(crate) zendesk: String,
    /// The Jira Data Center server base, like https://jira.acme.example.
    pub(crate) jira_dc: String,
    /// The ServiceNow instance base, like https://acme.service-now.com.
    pub(crate) servicenow: String,
    /// The Salesforce org base (its `instance_url`).
    pub(crate) salesforce: String,
    /// The HP ALM/QC `qcbin` URL.
    pub(crate) hp_alm: String,
}

impl Urls {
    pub(crate) fn new(base: &str) -> Self {
        Urls {
            github_api: format!("{base}/github"),
            github_web: format!("{base}/github-web"),
            jira: format!("{base}/jira"),
            azure_devops: format!("{base}/azure-devops"),
            zendesk: format!("{base}/zendesk"),
            jira_dc: format!("{base}/jira-dc"),
            servicenow: format!("{base}/servicenow"),
            salesforce: format!("{base}/salesforce"),
            hp_alm: format!("{base}/hp-alm/qcbin"),
        }
    }
}

/// The configuration, the URLs and the mutable state behind one lock. Handlers hold the lock
/// for a whole write, so each write and the webhooks it records are atomic and ordered.
pub(crate) struct App {
    pub(crate) config: SandboxConfig,
    pub(crate) urls: Urls,
    shared: Mutex<Shared>,
}

impl App {
    pub(crate) fn new(config: SandboxConfig, base_url: &str) -> Self {
        App {
            config,
            urls: Urls::new(base_url),
            shared: Mutex::new(Shared::default()),
        }
    }

    /// Locks the shared state. A handler that panicked while holding the lock leaves the state
    /// as it was at the panic, which is still usable for a test double.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Mutable sandbox state.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) github_clock: LogicalClock,
    pub(crate) jira_clock: LogicalClock,
    pub(crate) outbox: Vec<RecordedWebhook>,
    pub(crate) requests: RequestLog,
    pub(crate) faults: Vec<Fault>,
    pub(crate) truncations: Vec<Truncation>,
    pub(crate) rate_limits: RateLimits,
    pub(crate) forwarders: Forwarders,
    pub(crate) ops: crate::ops::OpsState,
    pub(crate) azure_devops: crate::azure_devops::AzureStore,
    pub(crate) zendesk: crate::zendesk::ZendeskStore,
    pub(crate) jira_dc: crate::jira_dc::DcStore,
    pub(crate) servicenow: crate::servicenow::SnStore,
    pub(crate) salesforce: crate::salesforce::SfStore,
    pub(crate) hp_alm: crate::hp_alm::AlmStore,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            store: Store::default(),
            github_clock: LogicalClock::github(),
            jira_clock: LogicalClock::jira(),
            outbox: Vec::new(),
            requests: RequestLog::default(),
            faults: Vec::new(),
            truncations: Vec::new(),
            rate_limits: RateLimits::default(),
            forwarders: Forwarders::default(),
            ops: crate::ops::OpsState::default(),
            azure_devops: Default::default(),
            zendesk: Default::default(),
            jira_dc: Default::default(),
            servicenow: Default::default(),
            salesforce: Default::default(),
            hp_alm: Default::default(),
        }
    }
}

impl Shared {
    /// Records a webhook in the outbox and queues it for forwarding.
    pub(crate) fn emit(&mut self, webhook: RecordedWebhook) {
        self.forwarders.send(&webhook);
        if webhook.tracker == "github" {
            self.ops.record_github_delivery(&webhook);
        }
        self.outbox.push(webhook);
    }

    /// Clears issues, webhooks, requests, faults, truncations and rate-limit counters. The
    /// clocks keep running so that timestamps never go backwards.
    pub(crate) fn reset(&mut self) {
        self.store = Store::default();
        self.azure_devops.reset();
        self.zendesk.reset();
        self.jira_dc.reset();
        self.servicenow.reset();
        self.salesforce.reset();
        self.hp_alm.reset();
        self.outbox.clear();
        self.requests.clear();
        self.faults.clear();
        self.truncations.clear();
        self.rate_limits = RateLimits::default();
        self.ops.reset();
    }
}

/// GitHub primary rate-limit counters per caller, in hour-long windows. They only feed the
/// `x-ratelimit-*` headers. NOTE: the sandbox never rejects a request for exceeding the limit,
/// so tests simulate that with a fault.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    windows: HashMap<String, RateWindow>,
}

#[derive(Debug, Clone, Copy)]
struct RateWindow {
    reset_epoch_seconds: i64,
    used: u32,
}

/// Header values for one response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateLimitStatus {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    pub(crate) used: u32,
    pub(crate) reset_epoch_seconds: i64,
}

impl RateLimits {
    /// Counts one request by `caller` (a user id, or `None` for an unauthenticated request,
    /// which GitHub limits to 60 an hour) and returns the headers to send.
    pub(crate) fn count(&mut self, caller: Option<&str>) -> RateLimitStatus {
        let (key, limit) = match caller {
            Some(id) => (id.to_owned(), 5000),
            None => (String::new(), 60),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let window = self.windows.entry(key).or_insert(RateWindow {
            reset_epoch_seconds: now + 3600,
            used: 0,
        });
        if now >= window.reset_epoch_seconds {
            *window = RateWindow {
                reset_epoch_seconds: now + 3600,
                used: 0,
            };
        }
        window.used += 1;
        RateLimitStatus {
            limit,
            remaining: limit.saturating_sub(window.used),
            used: window.used,
            reset_epoch_seconds: window.reset_epoch_seconds,
        }
    }
}
