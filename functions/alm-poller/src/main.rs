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

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let pipeline = Arc::new(proxysync_core::lambda::pipeline_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pipeline = pipeline.clone();
        async move {
            let now_ms = proxysync_core::time_util::now_ms();
            let left_ms = i64::try_from(event.context.deadline).unwrap_or(now_ms) - now_ms;
            let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
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
