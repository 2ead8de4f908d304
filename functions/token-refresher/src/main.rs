//! token-refresher: keeps the OAuth access tokens of tracker instances fresh.
//!
//! Trigger: an EventBridge schedule (every 5 minutes by default).
//! Reads: the instances (DynamoDB), their secrets (Secrets Manager), the
//! instances marked as needing an operator (DynamoDB). Writes: refreshed
//! access tokens and rotated refresh tokens as new secret versions, refresh
//! leases and operator marks (DynamoDB), and one CloudWatch Embedded Metric
//! Format line per run on stdout.
//! Environment: `PROXYSYNC_TABLE` (required), `PROXYSYNC_REFRESH_MARGIN_SECS`
//! (900), `PROXYSYNC_REFRESH_LEASE_SECS` (60), `PROXYSYNC_REFRESH_CONCURRENCY`
//! (16), `PROXYSYNC_REFRESH_WARN_DAYS` (7), `PROXYSYNC_METRICS_NAMESPACE`
//! (`proxysync`), and Lambda's `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`.

mod handler;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    proxysync_core::lambda::init_logging();
    let state = handler::State::from_env().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| handler::handle(&state, event),
    ))
    .await
}
