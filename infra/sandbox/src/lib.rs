//! A fake GitHub and Jira Cloud for proxysync's tests and local demo.
//!
//! [`Sandbox::spawn`] starts an HTTP server. Routes under `/github` follow the GitHub REST API
//! and routes under `/jira` follow the Jira Cloud REST API v3, for the subset that proxysync
//! calls, with issues kept in memory. Every successful write records the webhook delivery the
//! real tracker would send for it, authored by the writing user and signed with the configured
//! secret, and [`Sandbox::take_webhooks`] drains them. Faults added with [`Sandbox::add_fault`]
//! replace or delay the responses to matching requests. The `/_sandbox` routes offer the same
//! controls over HTTP.

mod admin;
mod app;
mod azure_devops;
mod clock;
mod config;
mod faults;
mod gateway;
mod github;
mod hp_alm;
mod jira;
mod jira_dc;
mod ops;
mod requests;
mod salesforce;
mod servicenow;
mod state;
mod truncation;
mod webhooks;
mod zendesk;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use azure_devops::{
    AzureComment, AzureDevopsConfig, AzureDevopsState, AzureDevopsUser, AzureWorkItem,
};
pub use config::{GithubConfig, GithubUser, JiraConfig, JiraUser, SandboxConfig};
pub use faults::Fault;
pub use hp_alm::{HpAlmAudit, HpAlmConfig, HpAlmControl, HpAlmDefect, HpAlmUser};
pub use jira_dc::{
    JiraDcComment, JiraDcConfig, JiraDcIssue, JiraDcRemoteLink, JiraDcState, JiraDcUser,
};
pub use ops::HookDelivery;
pub use requests::RecordedRequest;
pub use salesforce::{SalesforceConfig, SalesforceControl, SalesforceRecord, SalesforceUser};
pub use servicenow::{
    OauthClient, ServicenowConfig, ServicenowControl, ServicenowJournal, ServicenowRecord,
    ServicenowUser,
};
pub use state::{
    GithubComment, GithubIssue, GithubLabel, GithubState, JiraComment, JiraIssue, JiraRemoteLink,
    JiraState, StateSnapshot,
};
pub use truncation::Truncation;
pub use webhooks::{RecordedWebhook, Tracker};
pub use zendesk::{ZendeskComment, ZendeskConfig, ZendeskState, ZendeskTicket, ZendeskUser};

use app::App;

/// How long `shutdown` waits for open connections to finish before it stops the server anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running sandbox server. Dropping it stops the server without waiting.
pub struct Sandbox {
    app: Arc<App>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl Sandbox {
    /// Validates `config`, binds `addr` (use 127.0.0.1:0 for a free port) and serves the fake
    /// trackers on a background task. Must be called inside a Tokio runtime.
    pub async fn spawn(config: SandboxConfig, addr: SocketAddr) -> io::Result<Sandbox> {
        config
            .validate()
            .map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Arc::new(App::new(config, &format!("http://{addr}")));
        let router = router(app.clone());
        let (shutdown, shutdown_signal) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender counts as a shutdown request too.
                    let _ = shutdown_signal.await;
                })
                .await
        });
        Ok(Sandbox {
            app,
            addr,
            shutdown: Some(shutdown),
            server: Some(server),
        })
    }

    /// Returns the address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns "http://127.0.0.1:PORT".
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the GitHub API base URL, the sandbox's https://api.github.com.
    pub fn github_url(&self) -> String {
        self.app.urls.github_api.clone()
    }

    /// Returns the ServiceNow instance base URL, the sandbox's https://acme.service-now.com.
    pub fn servicenow_url(&self) -> String {
        self.app.urls.servicenow.clone()
    }

    /// Returns the test controls of the fake ServiceNow instance: tokens, rotation, records.
    pub fn servicenow(&self) -> ServicenowControl<'_> {
        ServicenowControl { app: &self.app }
    }

    /// Returns the Salesforce org base URL (its `instance_url`).
    pub fn salesforce_url(&self) -> String {
        self.app.urls.salesforce.clone()
    }

    /// Returns the test controls of the fake Salesforce org: tokens, records, outbound messages.
    pub fn salesforce(&self) -> SalesforceControl<'_> {
        SalesforceControl { app: &self.app }
    }

    /// Returns the HP ALM/QC `qcbin` URL.
    pub fn hp_alm_url(&self) -> String {
        self.app.urls.hp_alm.clone()
    }

    /// Returns the test controls of the fake HP ALM/QC server: defects, audits, sessions.
    pub fn hp_alm(&self) -> HpAlmControl<'_> {
        HpAlmControl { app: &self.app }
    }

    /// Returns the Jira site base URL, the sandbox's https://your-site.atlassian.net.
    pub fn jira_url(&self) -> String {
        self.app.urls.jira.clone()
    }

    /// Returns the Azure DevOps organization URL, the sandbox's https://dev.azure.com/acme.
    pub fn azure_devops_url(&self) -> String {
        format!(
            "{}/{}",
            self.app.urls.azure_devops, self.app.config.azure_devops.organization
        )
    }

    /// Returns a copy of the Azure DevOps work items and comments.
    pub fn azure_devops_state(&self) -> AzureDevopsState {
        self.app.lock().azure_devops.state.clone()
    }

    /// Returns the Zendesk account base URL.
    pub fn zendesk_url(&self) -> String {
        self.app.urls.zendesk.clone()
    }

    /// Returns a copy of the Zendesk tickets and comments.
    pub fn zendesk_state(&self) -> ZendeskState {
        self.app.lock().zendesk.state.clone()
    }

    /// Returns the Jira Data Center server base URL.
    pub fn jira_dc_url(&self) -> String {
        self.app.urls.jira_dc.clone()
    }

    /// Returns a copy of the Jira Data Center issues, comments and remote links.
    pub fn jira_dc_state(&self) -> JiraDcState {
        self.app.lock().jira_dc.state.clone()
    }

    /// Returns the configuration the sandbox was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.app.config
    }

    /// Returns a copy of all stored issues, comments, labels and remote links.
    pub fn state(&self) -> StateSnapshot {
        self.app.lock().store.snapshot()
    }

    /// Removes and returns the recorded webhooks, oldest first.
    pub fn take_webhooks(&self) -> Vec<RecordedWebhook> {
        std::mem::take(&mut self.app.lock().outbox)
    }

    /// Returns the logged tracker requests, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.lock().requests.entries()
    }

    /// Adds a fault after the existing ones. The first matching fault wins. An invalid fault
    /// (see [`Fault::validate`]) is logged and still added: an invalid status responds 500
    /// and invalid headers are skipped.
    pub fn add_fault(&self, fault: Fault) {
        if let Err(message) = fault.validate() {
            tracing::warn!(%message, "adding an invalid fault");
        }
        self.app.lock().faults.push(fault);
    }

    /// Sets the `x-oauth-scopes` that GitHub reports for `login`'s token (default `repo`).
    pub fn set_github_scopes(&self, login: &str, scopes: &str) {
        self.app.lock().ops.set_github_scopes(login, scopes);
    }

    /// Takes the Jira project permission `permission` (such as `EDIT_ISSUES`) from the account,
    /// in every project, as `mypermissions` reports it.
    pub fn deny_jira_permission(&self, account_id: &str, permission: &str) {
        self.app.lock().ops.deny_jira(account_id, permission);
    }

    /// Takes the Jira Data Center project permission `permission` (such as `BROWSE_PROJECTS`)
    /// from the user with `user_key`, in every project, for `mypermissions` and the search.
    pub fn deny_jira_dc_permission(&self, user_key: &str, permission: &str) {
        self.app.lock().jira_dc.deny(user_key, permission);
    }

    /// Sets the time zone (an IANA name such as "America/Los_Angeles") of the Jira Data Center
    /// user with `user_key`, as `myself` reports it and as the search reads JQL dates.
    pub fn set_jira_dc_time_zone(&self, user_key: &str, zone: &str) {
        self.app.lock().jira_dc.set_time_zone(user_key, zone);
    }

    /// Records the receiver's HTTP status for the newest delivery attempt of the GitHub event
    /// `guid` (its `X-GitHub-Delivery`), as the hook deliveries API then lists it. Returns false
    /// when no delivery has that guid.
    pub fn set_github_delivery_status(&self, guid: &str, status: u16) -> bool {
        self.app.lock().ops.set_delivery_status(guid, status)
    }

    /// Returns the GitHub hook's delivery attempts, oldest first.
    pub fn github_deliveries(&self) -> Vec<HookDelivery> {
        self.app.lock().ops.deliveries.clone()
    }

    /// Sets the receiver URL that the GitHub hooks report in their configuration.
    pub fn set_github_hook_url(&self, url: &str) {
        self.app.lock().ops.hook_url = Some(url.to_owned());
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        self.app.lock().faults.clear();
    }

    /// Adds a rule that serves matching requests normally but cuts their response bodies short
    /// (see [`Truncation`]). `clear_faults` leaves it; `clear_truncations` and `reset` remove it.
    pub fn add_truncation(&self, truncation: Truncation) {
        self.app.lock().truncations.push(truncation);
    }

    /// Removes all truncation rules.
    pub fn clear_truncations(&self) {
        self.app.lock().truncations.clear();
    }

    /// Clears issues, webhooks, requests and faults, like `POST /_sandbox/reset`.
    pub fn reset(&self) {
        self.app.lock().reset();
    }

    /// POSTs every webhook recorded from now on for `tracker` to `url` as well, in order and
    /// with the recorded headers, or stops doing so when `url` is `None`. Failed deliveries are
    /// logged and not retried. Must be called inside a Tokio runtime.
    pub fn forward_webhooks(&self, tracker: Tracker, url: Option<String>) {
        self.app.lock().forwarders.set(tracker, url);
    }

    /// Stops accepting connections, waits up to 5 seconds for open ones to finish, then stops
    /// the server.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => {
                    tracing::warn!(%error, "sandbox server stopped with an error")
                }
                Ok(Err(error)) => tracing::warn!(%error, "sandbox server task failed"),
                Err(_) => {
                    tracing::warn!(
                        "open connections did not finish in time, so the sandbox server is stopped"
                    );
                    abort.abort();
                }
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Assembles the routes: `/github`, `/jira` and `/_sandbox`, behind the gateway middleware.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .nest("/github", github::router())
        .nest("/jira", jira::router())
        .nest("/azure-devops", azure_devops::router())
        .nest("/zendesk", zendesk::router())
        .nest("/jira-dc", jira_dc::router())
        .nest("/servicenow", servicenow::router())
        .nest("/salesforce", salesforce::router())
        .nest("/hp-alm", hp_alm::router())
        .merge(admin::router())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gateway::gateway,
        ))
        .with_state(app)
}
