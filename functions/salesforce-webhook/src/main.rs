//! salesforce-webhook: receives Salesforce Outbound Messages (SOAP).
//!
//! Trigger: API Gateway `POST /webhooks/salesforce/{instance}?token=...`. Reads: the instance
//! and connections (DynamoDB), the instance secrets (Secrets Manager). Writes: delivery
//! claims, issue links and parked events (DynamoDB), and the linked issues on the connected
//! trackers. Answers the SOAP acknowledgement once every notification is synced, skipped or
//! parked, and a SOAP fault otherwise, so Salesforce redelivers the message.
//! Environment: `PROXYSYNC_TABLE` (required), `PROXYSYNC_SYNC_BUDGET_MS`,
//! `PROXYSYNC_MAX_BODY_BYTES`, `PROXYSYNC_CONFIG_TTL_SECS`, `PROXYSYNC_SECRET_TTL_SECS`, and
//! Lambda's `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    proxysync_core::lambda::serve("salesforce").await
}
