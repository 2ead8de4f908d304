//! Poll watermarks: how far a poller has read a tracker that sends no webhooks.

use serde::{Deserialize, Serialize};

use super::{Store, s};
use crate::error::StoreError;

/// Where a poller stands in one scope (an HP ALM/QC project) of an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollWatermark {
    /// The newest change time fully handled, in the tracker's own format and clock.
    pub last_modified: String,
    /// Keys of the changes already handled near `last_modified`, so that re-reading an
    /// overlap window does not apply them twice.
    pub handled: Vec<String>,
}

impl Store {
    /// Reads the watermark of `scope` on `instance`, or `None` before the first poll.
    ///
    /// # Errors
    /// A DynamoDB failure, or a stored record that no longer parses.
    pub async fn poll_watermark(
        &self,
        instance: &str,
        scope: &str,
    ) -> Result<Option<PollWatermark>, StoreError> {
        let key = format!("poll#{instance}#{scope}");
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&key))
            .key("sk", s("watermark"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        let Some(data) = item.and_then(|item| item.get("data").cloned()) else {
            return Ok(None);
        };
        let text = data.as_s().map_err(|_| StoreError::InvalidRecord {
            key: key.clone(),
            message: "data is not a string".to_owned(),
        })?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| StoreError::InvalidRecord {
                key,
                message: e.to_string(),
            })
    }

    /// Stores the watermark of `scope` on `instance`.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn set_poll_watermark(
        &self,
        instance: &str,
        scope: &str,
        watermark: &PollWatermark,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(watermark).expect("watermarks serialize");
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("poll#{instance}#{scope}")))
            .item("sk", s("watermark"))
            .item("data", s(data))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }
}
