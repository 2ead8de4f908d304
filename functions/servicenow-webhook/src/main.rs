//! servicenow-webhook: receives the records that proxysync's ServiceNow business rule posts.
//!
//! Trigger: API Gateway `POST /webhooks/servicenow/{instance}`.
//! Reads: the instance and connections (DynamoDB), the instance secrets
//! (Secrets Manager). Writes: delivery claims, issue links, parked events and
//! refresh leases (DynamoDB), refreshed OAuth tokens after a 401 (Secrets
//! Manager), and the linked issues on the connected trackers.
//! Environment: `PROXYSYNC_TABLE` (required), `PROXYSYNC_SYNC_BUDGET_MS`,
//! `PROXYSYNC_MAX_BODY_BYTES`, `PROXYSYNC_CONFIG_TTL_SECS`,
//! `PROXYSYNC_SECRET_TTL_SECS`, and Lambda's `AWS_LAMBDA_LOG_LEVEL` and
//! `AWS_LAMBDA_LOG_FORMAT`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    proxysync_core::lambda::serve("servicenow").await
}
