//! The handler of the catch-up function, apart from its binary so tests call it directly.

use std::time::Duration;

use proxysync_core::Pipeline;
use proxysync_core::catch_up;
use proxysync_core::error::StoreError;
use proxysync_core::time_util::now_ms;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Time kept back from the Lambda deadline, so the last sync finishes and is stored.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Runs one catch-up over every instance and returns what it found.
///
/// `lambda_deadline_ms` is the invocation's deadline in epoch milliseconds; without it the run
/// may take up to five minutes.
///
/// # Errors
/// A DynamoDB failure while reading the configuration.
pub async fn handle(
    pipeline: &Pipeline,
    lambda_deadline_ms: Option<i64>,
) -> Result<Value, StoreError> {
    let left = match lambda_deadline_ms {
        Some(deadline) => Duration::from_millis(u64::try_from(deadline - now_ms()).unwrap_or(0)),
        None => Duration::from_secs(300),
    };
    let stop_at = Instant::now() + left.saturating_sub(DEADLINE_MARGIN);
    let report = catch_up::run(pipeline, stop_at).await?;
    Ok(json!({
        "redelivered": report.redelivered,
        "synced": report.synced,
        "in_sync": report.in_sync,
        "failures": report.failures,
        "budget_exhausted": report.budget_exhausted,
    }))
}
