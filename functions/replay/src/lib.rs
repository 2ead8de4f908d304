//! The handler of the replay function, apart from its binary so tests call it directly.

use std::time::Duration;

use proxysync_core::Pipeline;
use proxysync_core::error::StoreError;
use proxysync_core::time_util::now_ms;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Time kept back from the Lambda deadline, so the last replay finishes and is stored.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Replays the parked events that are due, oldest first per issue, and returns the counts.
///
/// `lambda_deadline_ms` is the invocation's deadline in epoch milliseconds; no event starts
/// later than one sync budget and [`DEADLINE_MARGIN`] before it.
///
/// # Errors
/// A DynamoDB failure; events replayed before it stay replayed.
pub async fn handle(
    pipeline: &Pipeline,
    lambda_deadline_ms: Option<i64>,
) -> Result<Value, StoreError> {
    let budget = pipeline.settings().sync_budget;
    let stop_at = lambda_deadline_ms.map(|deadline| {
        let left = Duration::from_millis(u64::try_from(deadline - now_ms()).unwrap_or(0));
        Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
    });
    let report = pipeline.replay_parked_until(false, budget, stop_at).await?;
    Ok(json!({
        "replayed": report.replayed,
        "skipped": report.skipped,
        "failed": report.failed,
        "waiting": report.waiting,
    }))
}
