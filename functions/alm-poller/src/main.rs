//! alm-poller: reads the HP ALM/QC defects changed since the last run, on a schedule.
//!
//! Trigger: an EventBridge schedule (`AlmPollSchedule` in template.yaml, every 2 minutes by
//! default); the event's content is ignored. For each HP ALM/QC instance and project, it
//! takes a lease, signs in, reads the changed defects page by page with their audit records,
//! and syncs each change as a webhook would. Reads: instances, connections, links and poll
//! watermarks (DynamoDB), the instance secrets (Secrets Manager). Writes: the poll watermark
//! per project, and the same as a webhook for each change it syncs. Returns the report of
//! each project, and fails the invocation when a project's poll failed, so the function's
//! error alarm fires; the watermark of a failed project stays, and the next run reads its
//! page again. Environment: as the webhook functions, and Lambda's `AWS_LAMBDA_LOG_LEVEL`
//! and `AWS_LAMBDA_LOG_FORMAT`.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use proxysync_core::trackers::hp_alm::poll;
use serde_json::Value;
use tokio::time::Instant;

/// Time kept back from the Lambda deadline to store the watermark and return the report.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Run time when the invocation's deadline is already past: the function's `Timeout` in
/// template.yaml (110 s). Real Lambda stops a function at its deadline, so only an emulator
/// sends a past one, such as the fixed placeholder of `cargo lambda watch`.
const PLACEHOLDER_RUN_TIME: Duration = Duration::from_secs(110);

#[tokio::main]
async fn main() -> Result<(), Error> {
    proxysync_core::lambda::init_logging();
    let pipeline = Arc::new(proxysync_core::lambda::pipeline_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pipeline = pipeline.clone();
        async move {
            let left = time_left(event.context.deadline, proxysync_core::time_util::now_ms());
            let deadline = Instant::now() + left.saturating_sub(DEADLINE_MARGIN);
            let reports =
                proxysync_core::metrics::flushed(Box::pin(poll::poll_all(&pipeline, deadline)))
                    .await?;
            let failed: Vec<String> = reports
                .iter()
                .filter(|report| report.outcome == "failed")
                .map(|report| {
                    format!(
                        "{} {}: {}",
                        report.instance,
                        report.project,
                        report.error.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            if !failed.is_empty() {
                return Err(Error::from(format!(
                    "poll failed for {}",
                    failed.join("; ")
                )));
            }
            Ok::<Value, Error>(serde_json::to_value(&reports)?)
        }
    }))
    .await
}

/// Returns the time until `deadline_ms` (epoch milliseconds), or [`PLACEHOLDER_RUN_TIME`] when
/// that deadline is not in the future.
fn time_left(deadline_ms: u64, now_ms: i64) -> Duration {
    match i64::try_from(deadline_ms).map(|deadline| deadline - now_ms) {
        Ok(left_ms) if left_ms > 0 => Duration::from_millis(left_ms.unsigned_abs()),
        _ => PLACEHOLDER_RUN_TIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_796_400_000_000;

    #[test]
    fn future_deadline_sets_time_left() {
        let left = time_left(NOW_MS as u64 + 90_000, NOW_MS);
        assert_eq!(left, Duration::from_secs(90));
    }

    #[test]
    fn past_deadline_uses_placeholder() {
        // cargo lambda watch sends 600000, ten minutes after the epoch.
        assert_eq!(time_left(600_000, NOW_MS), PLACEHOLDER_RUN_TIME);
        assert_eq!(time_left(NOW_MS as u64, NOW_MS), PLACEHOLDER_RUN_TIME);
    }

    #[test]
    fn unrepresentable_deadline_uses_placeholder() {
        assert_eq!(time_left(u64::MAX, NOW_MS), PLACEHOLDER_RUN_TIME);
    }
}
