//! Records of the operations side: the per-issue write counter and the catch-up watermarks.

use serde::{Deserialize, Serialize};

use super::{Store, n, s};
use crate::error::StoreError;

/// The catch-up progress of one GitHub repository hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookCatchUp {
    /// The epoch millisecond at which the last run started reading the newest deliveries. Every
    /// delivery from then back to the previous run was read, except the backlog's.
    pub at_ms: i64,
    /// Older deliveries that a run left unread because its page or time budget ran out.
    #[serde(default)]
    pub backlog: Option<DeliveryBacklog>,
}

/// Deliveries still to read, from a page cursor back to a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryBacklog {
    /// GitHub's `cursor` of the first unread page, or `None` to read from the newest delivery.
    pub cursor: Option<String>,
    /// The epoch millisecond that the reading goes back to.
    pub since_ms: i64,
}

impl Store {
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

    /// Reads the catch-up state of the GitHub hook `hook` (`{owner}/{repo}#{hook id}`) of
    /// `instance`, or `None` before the hook's first run.
    ///
    /// # Errors
    /// A DynamoDB failure, or a stored record that no longer parses.
    pub async fn hook_catch_up(
        &self,
        instance: &str,
        hook: &str,
    ) -> Result<Option<HookCatchUp>, StoreError> {
        let key = format!("catchup#{instance}");
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&key))
            .key("sk", s(format!("hook#{hook}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        let Some(data) = item.and_then(|item| item.get("data").cloned()) else {
            return Ok(None);
        };
        let invalid = |message: String| StoreError::InvalidRecord {
            key: format!("{key} hook#{hook}"),
            message,
        };
        let text = data
            .as_s()
            .map_err(|_| invalid("data is not a string".to_owned()))?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| invalid(e.to_string()))
    }

    /// Stores the catch-up state of the GitHub hook `hook` of `instance`.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn set_hook_catch_up(
        &self,
        instance: &str,
        hook: &str,
        state: &HookCatchUp,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(state).expect("catch-up states serialize");
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("catchup#{instance}")))
            .item("sk", s(format!("hook#{hook}")))
            .item("data", s(data))
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
