//! Records of the operations side: the per-issue write counter and the catch-up watermarks.

use super::{Store, n, s};
use crate::error::StoreError;
use crate::time_util::now_ms;

impl Store {
    /// Counts one write to `issue_id` through `connection` in the current minute.
    ///
    /// Returns false, and counts nothing, when `cap` writes were already counted
    /// this minute. The counter expires with DynamoDB's TTL a few minutes later.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn count_write(
        &self,
        instance: &str,
        issue_id: &str,
        connection: &str,
        cap: u32,
    ) -> Result<bool, StoreError> {
        let minute = now_ms() / 60_000;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("writes#{instance}#{issue_id}")))
            .key("sk", s(format!("{connection}#{minute}")))
            .update_expression("ADD writes :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(writes) OR writes < :cap")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(i64::from(cap)))
            .expression_attribute_values(":expires", n((minute + 5) * 60))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(self.failed("UpdateItem", error)),
        }
    }

    /// Reads the catch-up watermark of `instance`: the epoch millisecond up to which a
    /// catch-up has looked, or `None` before the first run.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn catch_up_watermark(&self, instance: &str) -> Result<Option<i64>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("catchup#{instance}")))
            .key("sk", s("watermark"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        Ok(item
            .and_then(|item| item.get("at").cloned())
            .and_then(|value| value.as_n().ok().and_then(|v| v.parse().ok())))
    }

    /// Stores the catch-up watermark of `instance`.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn set_catch_up_watermark(
        &self,
        instance: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("catchup#{instance}")))
            .item("sk", s("watermark"))
            .item("at", n(at_ms))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    /// Returns true when the delivery `delivery_id` of `instance` was claimed, so it was handled
    /// or is being handled.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn delivery_seen(
        &self,
        instance: &str,
        delivery_id: &str,
    ) -> Result<bool, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("delivery#{instance}#{delivery_id}")))
            .key("sk", s("delivery"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        Ok(item.is_some())
    }
}
