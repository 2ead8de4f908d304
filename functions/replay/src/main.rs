//! replay: retries parked events on a schedule.
//!
//! Trigger: an EventBridge schedule (`ReplaySchedule` in template.yaml); the event's content is
//! ignored. Reads: parked events, instances and connections (DynamoDB), the instance secrets
//! (Secrets Manager). Writes: the linked issues on the trackers, then deletes each replayed
//! event, or stores its next attempt with exponential backoff and jitter. An issue whose older
//! event fails keeps its newer events parked, so each issue's changes apply in order.
//! Environment: as the webhook functions (`PROXYSYNC_TABLE`, `PROXYSYNC_SYNC_BUDGET_MS`, ...),
//! `PROXYSYNC_METRICS_NAMESPACE`, and Lambda's `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`.

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
                proxysync_core::metrics::flushed(Box::pin(replay::handle(&pipeline, deadline)))
                    .await?;
            Ok::<Value, Error>(report)
        }
    }))
    .await
}
