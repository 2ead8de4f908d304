//! catch-up: recovers the changes that trackers failed to deliver, on a schedule.
//!
//! Trigger: an EventBridge schedule (`CatchUpSchedule` in template.yaml); the event's content
//! is ignored. For each GitHub instance whose options name its repository hooks (`hook_id`, or
//! `hooks`), it pages through each hook's deliveries since the last run and requests a
//! redelivery of those that failed and were never handled. For each Jira Cloud and Jira Data
//! Center instance, it searches the connected projects for issues updated since the last run
//! and syncs those that differ from what was synced. Reads: instances, connections, links and
//! delivery claims (DynamoDB), the instance secrets (Secrets Manager). Writes: the catch-up
//! watermark per instance and the state of each GitHub hook, and the same as a webhook for
//! each change it syncs. Environment: as the webhook functions,
//! `PROXYSYNC_METRICS_NAMESPACE`, and Lambda's `AWS_LAMBDA_LOG_LEVEL` and
//! `AWS_LAMBDA_LOG_FORMAT`.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    proxysync_core::lambda::init_logging();
    let pipeline = Arc::new(proxysync_core::lambda::pipeline_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pipeline = pipeline.clone();
        async move {
            let deadline = i64::try_from(event.context.deadline).ok();
            let report =
                proxysync_core::metrics::flushed(Box::pin(catch_up::handle(&pipeline, deadline)))
                    .await?;
            Ok::<Value, Error>(report)
        }
    }))
    .await
}
