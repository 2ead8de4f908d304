//! Signs that people use the proxy user's account: changes it made that proxysync did not write.

use super::{Store, n, s};
use crate::error::StoreError;

/// The record of changes by an instance's proxy user that proxysync did not write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyUse {
    /// How many such changes were seen.
    pub changes: u64,
    /// When the first and the latest were seen, in epoch milliseconds.
    pub first_at_ms: i64,
    pub last_at_ms: i64,
    /// The issue key and event kind of the latest.
    pub last_issue: String,
    pub last_kind: String,
}

impl Store {
    /// Counts one change by the proxy user of `instance` that proxysync did not write.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn note_proxy_use(
        &self,
        instance: &str,
        issue_key: &str,
        kind: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s("proxy_use"))
            .key("sk", s(instance))
            .update_expression(
                "ADD changes :one SET first_at = if_not_exists(first_at, :at), last_at = :at, \
                 last_issue = :issue, last_kind = :kind",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", n(at_ms))
            .expression_attribute_values(":issue", s(issue_key))
            .expression_attribute_values(":kind", s(kind))
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        Ok(())
    }

    /// Reads what [`Store::note_proxy_use`] counted for `instance`.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn proxy_use(&self, instance: &str) -> Result<Option<ProxyUse>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("proxy_use"))
            .key("sk", s(instance))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        let Some(item) = item else {
            return Ok(None);
        };
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        Ok(Some(ProxyUse {
            changes: u64::try_from(number("changes")).unwrap_or(0),
            first_at_ms: number("first_at"),
            last_at_ms: number("last_at"),
            last_issue: text("last_issue"),
            last_kind: text("last_kind"),
        }))
    }

    /// Forgets the counted changes of `instance`, after an operator dealt with them.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn clear_proxy_use(&self, instance: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("proxy_use"))
            .key("sk", s(instance))
            .send()
            .await
            .map_err(|e| self.failed("DeleteItem", e))?;
        Ok(())
    }
}
