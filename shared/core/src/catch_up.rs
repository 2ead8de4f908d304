//! Catch-up: finds the changes that a tracker failed to deliver.
//!
//! GitHub never redelivers a failed webhook by itself, so for each hook that
//! the instance options name (`hook_id`, or `hooks`), the catch-up pages through
//! the hook's deliveries back to its previous run and requests a redelivery of
//! those that never got a 2xx response and that proxysync never claimed. Jira
//! Cloud retries, but not forever, and Jira Data Center has no retry to rely
//! on, so the catch-up searches the connected Jira projects for issues updated
//! since the last run and syncs those whose content differs from what was last
//! synced. Every change found this way counts in the `CatchUpFound` metric,
//! under the tracker's webhook route (`github` or `jira`).
//!
//! Each instance has a page and time [`Budget`]. A run that exhausts it logs a
//! warning and leaves what it did not read to the next run: a GitHub hook keeps
//! the cursor of its first unread page, and a Jira search moves its watermark
//! only up to the last issue it handled.

mod github;
mod jira;

use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use crate::config::Config;
use crate::error::StoreError;
use crate::model::{Instance, TrackerKind};
use crate::pipeline::Pipeline;

pub use github::failed_deliveries;

/// How far back the first run of an instance looks.
pub const FIRST_LOOKBACK: Duration = Duration::from_secs(3600);
/// How much each run overlaps the previous one, for clock skew and late indexing.
const OVERLAP_MS: i64 = 5 * 60 * 1000;
/// How long the calls for one instance may take.
const INSTANCE_BUDGET: Duration = Duration::from_secs(20);
/// The maximum number of pages of deliveries or search results read per instance and run.
pub const MAX_PAGES: usize = 10;
/// The time kept for handling the pages already read: no further page is read when less than
/// this is left of an instance's time budget.
pub const LIST_RESERVE: Duration = Duration::from_secs(5);
/// The minimum time left to start one more redelivery or issue sync.
const CALL_RESERVE: Duration = Duration::from_secs(2);

/// The limits of one instance's catch-up in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// How long the tracker calls of one instance may take.
    pub instance_time: Duration,
    /// The maximum number of pages of hook deliveries or search results read for one instance.
    pub max_pages: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            instance_time: INSTANCE_BUDGET,
            max_pages: MAX_PAGES,
        }
    }
}

/// What one catch-up run found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// GitHub deliveries that GitHub was asked to send again.
    pub redelivered: usize,
    /// Jira issues whose changes were synced.
    pub synced: usize,
    /// Jira issues read that were already in sync.
    pub in_sync: usize,
    /// Instances whose catch-up failed, with the error.
    pub failures: Vec<String>,
    /// Instances whose catch-up stopped at its page or time budget; the next run reads what
    /// they left.
    pub budget_exhausted: Vec<String>,
}

/// Runs a catch-up over every instance with the default [`Budget`], starting no instance
/// after `stop_at`.
///
/// # Errors
/// A DynamoDB failure while reading the configuration; a failure of one instance is
/// reported in [`CatchUpReport::failures`] and the others still run.
pub async fn run(pipeline: &Pipeline, stop_at: Instant) -> Result<CatchUpReport, StoreError> {
    run_with(pipeline, stop_at, Budget::default()).await
}

/// Runs a catch-up over every instance within `budget` per instance, starting no instance
/// whose budget would end after `stop_at`.
///
/// # Errors
/// As [`run`].
pub async fn run_with(
    pipeline: &Pipeline,
    stop_at: Instant,
    budget: Budget,
) -> Result<CatchUpReport, StoreError> {
    let config = pipeline.config(true).await?;
    let mut report = CatchUpReport::default();
    for instance in &config.instances {
        if Instant::now() + budget.instance_time > stop_at {
            warn!(
                instance = %instance.id,
                "catch-up ran out of time; the remaining instances wait for the next run"
            );
            break;
        }
        let span = tracing::info_span!("catch_up", tracker = instance.tracker.route(), instance = %instance.id);
        async {
            let mut run = InstanceRun {
                pipeline,
                config: &config,
                instance,
                deadline: Instant::now() + budget.instance_time,
                pages_left: budget.max_pages,
                report: &mut report,
            };
            let result = match instance.tracker {
                TrackerKind::Github => Box::pin(github::catch_up(&mut run)).await,
                TrackerKind::JiraCloud => {
                    Box::pin(jira::catch_up(&mut run, jira::Search::Cloud)).await
                }
                TrackerKind::JiraDc => {
                    Box::pin(jira::catch_up(&mut run, jira::Search::DataCenter)).await
                }
                _ => Ok(()),
            };
            if let Err(error) = result {
                warn!(error = %error, "catch-up of the instance failed");
                report.failures.push(format!("{}: {error}", instance.id));
            }
        }
        .instrument(span)
        .await;
    }
    info!(
        redelivered = report.redelivered,
        synced = report.synced,
        in_sync = report.in_sync,
        failures = report.failures.len(),
        budget_exhausted = report.budget_exhausted.len(),
        "catch-up run finished"
    );
    Ok(report)
}

/// The catch-up of one instance: its configuration, what is left of its budget, and the
/// report it adds to.
struct InstanceRun<'a> {
    pipeline: &'a Pipeline,
    config: &'a Config,
    instance: &'a Instance,
    /// The end of the instance's time budget.
    deadline: Instant,
    pages_left: usize,
    report: &'a mut CatchUpReport,
}

impl InstanceRun<'_> {
    /// Returns true when one more page fits in the page budget and in the time budget, less
    /// the time kept for handling the pages already read.
    fn may_read_page(&self) -> bool {
        self.pages_left > 0 && self.time_left() >= LIST_RESERVE
    }

    /// Returns true when enough time is left to start one more redelivery or issue sync.
    fn may_start_call(&self) -> bool {
        self.time_left() >= CALL_RESERVE
    }

    fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Logs that the budget ran out before `what` was read, and reports the instance.
    fn budget_exhausted(&mut self, what: &str) {
        warn!(
            pages_left = self.pages_left,
            ms_left = self.time_left().as_millis() as u64,
            unread = what,
            "catch-up budget ran out; the next run continues where this one stopped"
        );
        if !self.report.budget_exhausted.contains(&self.instance.id) {
            self.report.budget_exhausted.push(self.instance.id.clone());
        }
    }
}

fn connected_projects(config: &Config, instance: &Instance) -> Vec<String> {
    let mut projects: Vec<String> = config
        .connections
        .iter()
        .flat_map(|c| [&c.a, &c.b])
        .filter(|endpoint| endpoint.instance == instance.id)
        .map(|endpoint| endpoint.project.clone())
        .collect();
    projects.sort();
    projects.dedup();
    projects
}
