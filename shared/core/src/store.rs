//! proxysync's state in one DynamoDB table with typed key prefixes.
//!
//! | pk                                   | sk                         | what                         |
//! | ------------------------------------ | -------------------------- | ---------------------------- |
//! | `config`                             | `instance#{id}`            | an instance (JSON in `data`) |
//! | `config`                             | `connection#{id}`          | a connection                 |
//! | `delivery#{instance}#{id}`           | `delivery`                 | idempotency claim, with TTL  |
//! | `link#{instance}#{issue id}`         | `{connection}`             | the linked issue on the peer, and the write counter of the minute |
//! | `link#{instance}#{issue id}`         | `{connection}#comment#{id}`| a linked comment             |
//! | `link#{instance}#{issue id}`         | `{connection}#written#{id}`| a comment proxysync wrote    |
//! | `parked`                             | `{time}#{connection}#{id}` | a parked event               |
//! | `lease#{name}`                       | `lease`                    | a lease with its holder, TTL |
//! | `needs_operator`                     | `{instance}`               | OAuth credentials rejected   |
//! | `catchup#{instance}`                 | `watermark`                | last catch-up time           |
//! | `catchup#{instance}`                 | `hook#{repo}#{hook id}`    | GitHub hook catch-up state   |
//! | `poll#{instance}#{scope}`            | `watermark`                | poll watermark (HP ALM/QC)   |
//! | `proxy_use`                          | `{instance}`               | proxy changes not by us      |
//!
//! Temporary records carry `expires_at` (epoch seconds) for DynamoDB's TTL.
//! TTL deletion can lag by days, so readers also compare `expires_at` themselves.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::StoreError;
use crate::model::{ChangeEvent, Connection, Field, Instance, IssueRef};
use crate::time_util::now_ms;

mod ops;
mod poll;
mod proxy_use;

pub use ops::{DeliveryBacklog, HookCatchUp};
pub use poll::PollWatermark;
pub use proxy_use::ProxyUse;

/// How long a delivery id is remembered after it was handled.
const DELIVERY_RETENTION_SECS: i64 = 7 * 24 * 3600;

/// The outcome of claiming a delivery id.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This invocation owns the delivery and must finish or release it.
    Claimed,
    /// Another invocation handled or is handling it; `status` is `done`, `parked` or `in_progress`.
    Duplicate { status: String },
}

/// The link from an issue on one side to its peer on the other side of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub peer_instance: String,
    pub peer: Option<IssueRef>,
    /// The newest source event time, in epoch milliseconds, applied from this issue to its peer.
    pub applied_at_ms: i64,
    /// The fingerprint of the content proxysync last wrote onto this issue, kept so the
    /// catch-up can tell whether the issue changed since.
    pub echo: Option<String>,
    /// Hashes of the field values proxysync wrote onto this issue whose echo window is still
    /// open, for the echo guard; expired ones are left out.
    pub field_echoes: BTreeMap<Field, String>,
    /// Set while one invocation creates the peer, until this epoch millisecond.
    pub creating_until_ms: Option<i64>,
    /// The minute (epoch milliseconds / 60,000) of the writes counted in `writes_count`.
    pub writes_minute: i64,
    /// Writes proxysync made from this issue through the connection in `writes_minute`.
    pub writes_count: u32,
}

impl Link {
    /// Returns the writes from this issue already counted in `minute`.
    pub fn writes_in(&self, minute: i64) -> u32 {
        if self.writes_minute == minute {
            self.writes_count
        } else {
            0
        }
    }
}

/// The per-minute write counter of a source issue to store with a commit, for the write cap.
#[derive(Clone, Debug)]
pub struct WriteCount {
    pub instance: String,
    pub issue_id: String,
    pub connection: String,
    /// Epoch milliseconds / 60,000.
    pub minute: i64,
    /// The count including this write.
    pub count: u32,
}

/// An event that failed past its retry budget, with what is needed to apply it later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParkedEvent {
    /// The sort key of the record, `{time}#{connection}#{delivery}`.
    #[serde(default)]
    pub id: String,
    pub event: ChangeEvent,
    pub connection: String,
    /// The claim key of the delivery, so a replay after a redelivery still applies once. Only
    /// the event that completes its delivery's claim stores it, so it is empty for the earlier
    /// events of a delivery with several events or connections.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delivery_key: String,
    pub error: String,
    /// A short code of the last error: the HTTP status, or `unreachable`, `bad_response`,
    /// `refused` or `write_cap`; absent in records parked before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub attempts: u32,
    pub parked_at_ms: i64,
    pub next_attempt_ms: i64,
}

/// A write to one link record, part of a commit.
#[derive(Clone, Debug)]
pub struct LinkWrite {
    pub instance: String,
    pub issue_id: String,
    pub connection: String,
    pub peer_instance: String,
    pub peer: IssueRef,
    /// The applied source time to store, when this write records one.
    pub applied_at_ms: Option<i64>,
    /// The fingerprint of content just written onto this issue.
    pub echo: Option<String>,
    /// Field values just written onto this issue, as hashes, remembered until `echo_until_ms`.
    pub field_echoes: Vec<(Field, String)>,
    /// The end of the echo window of `field_echoes`, in epoch milliseconds.
    pub echo_until_ms: i64,
    /// Fields whose remembered echo to forget, because a person changed them on this issue.
    pub clear_echoes: Vec<Field>,
}

/// A comment that proxysync wrote, remembered for the echo window so that the tracker's
/// event for it is recognised whoever the tracker names as its author.
#[derive(Clone, Debug)]
pub struct WrittenComment {
    pub instance: String,
    pub issue_id: String,
    pub connection: String,
    pub comment_id: String,
    /// [`crate::sync::comment_hash`] of the body written.
    pub hash: String,
    pub until_ms: i64,
}

/// A comment mapping to add or remove, part of a commit.
#[derive(Clone, Debug)]
pub struct CommentWrite {
    pub instance: String,
    pub issue_id: String,
    pub connection: String,
    pub comment_id: String,
    /// The peer comment id, or `None` to remove the mapping.
    pub peer_comment_id: Option<String>,
}

/// Everything one successful sync stores, written in one transaction.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub links: Vec<LinkWrite>,
    pub comments: Vec<CommentWrite>,
    pub written_comments: Vec<WrittenComment>,
    /// The delivery claim to mark done.
    pub finish_delivery: Option<String>,
    /// The parked record this sync replayed, to delete.
    pub delete_parked: Option<String>,
    /// The source issue's write counter after this write.
    pub write_count: Option<WriteCount>,
}

/// The DynamoDB table of one deployment.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn link_pk(instance: &str, issue_id: &str) -> String {
    format!("link#{instance}#{issue_id}")
}

fn comment_sk(connection: &str, comment_id: &str) -> String {
    format!("{connection}#comment#{comment_id}")
}

fn written_sk(connection: &str, comment_id: &str) -> String {
    format!("{connection}#written#{comment_id}")
}

/// Returns the link attribute that contains the echo of one field, as `{until ms}:{hash}`.
fn echo_attribute(field: Field) -> &'static str {
    match field {
        Field::Title => "echo_title",
        Field::Body => "echo_body",
        Field::State => "echo_state",
        Field::Labels => "echo_labels",
    }
}

/// Reads an `{until ms}:{hash}` echo value, or `None` when it is malformed or expired at `now`.
fn unexpired_echo(value: &str, now: i64) -> Option<String> {
    let (until, hash) = value.split_once(':')?;
    let until: i64 = until.parse().ok()?;
    (until > now).then(|| hash.to_owned())
}

/// Builds the error of a failed DynamoDB call from the SDK's `message`.
fn dynamo_error(operation: &'static str, table: &str, message: String) -> StoreError {
    // DynamoDB returns ResourceNotFoundException only for a missing table or index, and
    // proxysync uses no index.
    if message.contains("ResourceNotFoundException") {
        return StoreError::MissingTable {
            operation,
            table: table.to_owned(),
        };
    }
    StoreError::Dynamo {
        operation,
        table: table.to_owned(),
        message,
    }
}

impl Store {
    /// Wraps a DynamoDB client for `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn failed<E>(&self, operation: &'static str, error: E) -> StoreError
    where
        E: std::error::Error + 'static,
    {
        dynamo_error(
            operation,
            &self.table,
            crate::error::aws_error_message(&error),
        )
    }

    /// Loads every instance and connection.
    ///
    /// # Errors
    /// A DynamoDB failure, or a stored record that no longer parses.
    pub async fn load_config(&self) -> Result<Config, StoreError> {
        let mut config = Config::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("config"))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.failed("Query", e))?;
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let data = item
                .get("data")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let invalid = |e: serde_json::Error| StoreError::InvalidRecord {
                key: format!("config/{sk}"),
                message: e.to_string(),
            };
            if sk.starts_with("instance#") {
                config
                    .instances
                    .push(serde_json::from_str(&data).map_err(invalid)?);
            } else if sk.starts_with("connection#") {
                config
                    .connections
                    .push(serde_json::from_str(&data).map_err(invalid)?);
            }
        }
        Ok(config)
    }

    /// Creates or replaces an instance record.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn put_instance(&self, instance: &Instance) -> Result<(), StoreError> {
        let data = serde_json::to_string(instance).expect("instances serialize");
        self.put_config(format!("instance#{}", instance.id), data)
            .await
    }

    /// Creates or replaces a connection record.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let data = serde_json::to_string(connection).expect("connections serialize");
        self.put_config(format!("connection#{}", connection.id), data)
            .await
    }

    /// Deletes a connection record and returns whether it existed. Links stored through it stay,
    /// so applying the connection again resumes its sync.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn delete_connection(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("config"))
            .key("sk", s(format!("connection#{id}")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.failed("DeleteItem", e))?;
        Ok(deleted.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn put_config(&self, sk: String, data: String) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("config"))
            .item("sk", s(sk))
            .item("data", s(data))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    /// Claims a delivery id, so a redelivery or a racing delivery is seen as a duplicate.
    ///
    /// A claim left `in_progress` by an invocation that died is taken over once
    /// its lease has passed.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn claim(&self, key: &str, lease_ms: i64) -> Result<Claim, StoreError> {
        let now = now_ms();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("sk", s("delivery"))
            .item("status", s("in_progress"))
            .item("lease_until", n(now + lease_ms))
            .item("expires_at", n(now / 1000 + DELIVERY_RETENTION_SECS))
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;

        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(error) => {
                let service = error.as_service_error();
                if let Some(failed) = service.filter(|e| e.is_conditional_check_failed_exception())
                {
                    let status = match failed {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => e
                            .item()
                            .and_then(|item| item.get("status"))
                            .and_then(|v| v.as_s().ok())
                            .cloned()
                            .unwrap_or_else(|| "done".to_owned()),
                        _ => "done".to_owned(),
                    };
                    return Ok(Claim::Duplicate { status });
                }
                Err(self.failed("PutItem", error))
            }
        }
    }

    /// Deletes a claim, so the tracker's retry of a failed delivery is processed.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn release(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .key("sk", s("delivery"))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await
            .map_err(|e| self.failed("DeleteItem", e))?;
        Ok(())
    }

    /// Marks a claim done without any other write.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn finish(&self, key: &str) -> Result<(), StoreError> {
        let commit = Commit {
            finish_delivery: Some(key.to_owned()),
            ..Commit::default()
        };
        self.commit(&commit).await
    }

    /// Reads the link of `issue_id` on `instance` through `connection`.
    ///
    /// # Errors
    /// A DynamoDB failure, or a stored link that no longer parses.
    pub async fn get_link(
        &self,
        instance: &str,
        issue_id: &str,
        connection: &str,
    ) -> Result<Option<Link>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(link_pk(instance, issue_id)))
            .key("sk", s(connection))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        let Some(item) = item else {
            return Ok(None);
        };

        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        let peer = match text("peer") {
            Some(json) => {
                Some(
                    serde_json::from_str(&json).map_err(|e| StoreError::InvalidRecord {
                        key: link_pk(instance, issue_id),
                        message: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        let now = now_ms();
        let field_echoes = [Field::Title, Field::Body, Field::State, Field::Labels]
            .into_iter()
            .filter_map(|field| {
                let hash = unexpired_echo(&text(echo_attribute(field))?, now)?;
                Some((field, hash))
            })
            .collect();
        Ok(Some(Link {
            peer_instance: text("peer_instance").unwrap_or_default(),
            peer,
            applied_at_ms: number("applied_at").unwrap_or(0),
            echo: text("echo"),
            field_echoes,
            creating_until_ms: number("creating_until"),
            writes_minute: number("writes_minute").unwrap_or(0),
            writes_count: number("writes_count")
                .and_then(|count| u32::try_from(count).ok())
                .unwrap_or(0),
        }))
    }

    /// Takes the right to create the peer of an unlinked issue for `hold_ms`.
    ///
    /// Returns false when the issue is already linked or another invocation
    /// holds an unexpired right.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn lock_create(
        &self,
        instance: &str,
        issue_id: &str,
        connection: &str,
        hold_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(link_pk(instance, issue_id)))
            .key("sk", s(connection))
            .update_expression("SET creating_until = :until")
            .condition_expression("attribute_not_exists(peer) AND (attribute_not_exists(creating_until) OR creating_until < :now)")
            .expression_attribute_values(":until", n(now + hold_ms))
            .expression_attribute_values(":now", n(now))
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

    /// Drops a create right taken by [`Store::lock_create`] after the create failed.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn unlock_create(
        &self,
        instance: &str,
        issue_id: &str,
        connection: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(link_pk(instance, issue_id)))
            .key("sk", s(connection))
            .update_expression("REMOVE creating_until")
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        Ok(())
    }

    /// Reads the peer id of a linked comment.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn get_comment(
        &self,
        instance: &str,
        issue_id: &str,
        connection: &str,
        comment_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(link_pk(instance, issue_id)))
            .key("sk", s(comment_sk(connection, comment_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        Ok(item.and_then(|item| {
            item.get("peer_comment")
                .and_then(|v| v.as_s().ok())
                .cloned()
        }))
    }

    /// Reads the body hash of a comment that proxysync wrote within the echo window.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn get_written_comment(
        &self,
        instance: &str,
        issue_id: &str,
        connection: &str,
        comment_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(link_pk(instance, issue_id)))
            .key("sk", s(written_sk(connection, comment_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?
            .item;
        // DynamoDB's TTL deletes late, so the expiry is checked here too.
        Ok(item.and_then(|item| {
            let until = item
                .get("until")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())?;
            (until > now_ms())
                .then(|| item.get("hash").and_then(|v| v.as_s().ok()).cloned())
                .flatten()
        }))
    }

    /// Writes everything one sync stores, in one transaction.
    ///
    /// # Errors
    /// A DynamoDB failure; then nothing of the commit was written.
    pub async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut items = Vec::new();
        let mut counted = false;
        for link in &commit.links {
            // DynamoDB allows one operation per item in a transaction, so the counter joins the
            // source link's update when the commit has one.
            let count = commit.write_count.as_ref().filter(|count| {
                count.instance == link.instance
                    && count.issue_id == link.issue_id
                    && count.connection == link.connection
            });
            counted |= count.is_some();
            items.push(self.link_update(link, count)?);
        }
        if let Some(count) = commit.write_count.as_ref().filter(|_| !counted) {
            items.push(self.count_update(count)?);
        }
        for comment in &commit.comments {
            items.push(self.comment_write(comment)?);
        }
        for written in &commit.written_comments {
            let put = aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .item("pk", s(link_pk(&written.instance, &written.issue_id)))
                .item(
                    "sk",
                    s(written_sk(&written.connection, &written.comment_id)),
                )
                .item("hash", s(&written.hash))
                .item("until", n(written.until_ms))
                .item("expires_at", n(written.until_ms / 1000 + 1))
                .build()
                .map_err(|e| self.failed("TransactWriteItems", e))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if let Some(key) = &commit.finish_delivery {
            items.push(self.finish_update(key, "done")?);
        }
        if let Some(id) = &commit.delete_parked {
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .key("pk", s("parked"))
                .key("sk", s(id))
                .build()
                .map_err(|e| self.failed("TransactWriteItems", e))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        if items.is_empty() {
            return Ok(());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| self.failed("TransactWriteItems", e))?;
        Ok(())
    }

    fn link_update(
        &self,
        link: &LinkWrite,
        count: Option<&WriteCount>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expression = "SET peer = :peer, peer_instance = :peer_instance".to_owned();
        let mut values = HashMap::from([
            (
                ":peer".to_owned(),
                s(serde_json::to_string(&link.peer).expect("issue refs serialize")),
            ),
            (":peer_instance".to_owned(), s(&link.peer_instance)),
        ]);
        if let Some(at) = link.applied_at_ms {
            expression.push_str(", applied_at = :applied_at");
            values.insert(":applied_at".to_owned(), n(at));
        }
        if let Some(count) = count {
            expression.push_str(", writes_minute = :writes_minute, writes_count = :writes_count");
            values.insert(":writes_minute".to_owned(), n(count.minute));
            values.insert(":writes_count".to_owned(), n(i64::from(count.count)));
        }
        if let Some(echo) = &link.echo {
            expression.push_str(", echo = :echo");
            values.insert(":echo".to_owned(), s(echo));
        }
        for (field, hash) in &link.field_echoes {
            let attribute = echo_attribute(*field);
            expression.push_str(&format!(", {attribute} = :{attribute}"));
            values.insert(
                format!(":{attribute}"),
                s(format!("{}:{hash}", link.echo_until_ms)),
            );
        }
        expression.push_str(" REMOVE creating_until");
        for field in &link.clear_echoes {
            if !link.field_echoes.iter().any(|(set, _)| set == field) {
                expression.push_str(", ");
                expression.push_str(echo_attribute(*field));
            }
        }

        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(link_pk(&link.instance, &link.issue_id)))
            .key("sk", s(&link.connection))
            .update_expression(expression)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| self.failed("TransactWriteItems", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn count_update(&self, count: &WriteCount) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(link_pk(&count.instance, &count.issue_id)))
            .key("sk", s(&count.connection))
            .update_expression("SET writes_minute = :writes_minute, writes_count = :writes_count")
            .expression_attribute_values(":writes_minute", n(count.minute))
            .expression_attribute_values(":writes_count", n(i64::from(count.count)))
            .build()
            .map_err(|e| self.failed("TransactWriteItems", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn comment_write(&self, comment: &CommentWrite) -> Result<TransactWriteItem, StoreError> {
        let pk = s(link_pk(&comment.instance, &comment.issue_id));
        let sk = s(comment_sk(&comment.connection, &comment.comment_id));
        let item = match &comment.peer_comment_id {
            Some(peer) => {
                let put = aws_sdk_dynamodb::types::Put::builder()
                    .table_name(&self.table)
                    .item("pk", pk)
                    .item("sk", sk)
                    .item("peer_comment", s(peer))
                    .build()
                    .map_err(|e| self.failed("TransactWriteItems", e))?;
                TransactWriteItem::builder().put(put).build()
            }
            None => {
                let delete = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(&self.table)
                    .key("pk", pk)
                    .key("sk", sk)
                    .build()
                    .map_err(|e| self.failed("TransactWriteItems", e))?;
                TransactWriteItem::builder().delete(delete).build()
            }
        };
        Ok(item)
    }

    fn finish_update(&self, key: &str, status: &str) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key))
            .key("sk", s("delivery"))
            .update_expression("SET #status = :status, expires_at = :expires REMOVE lease_until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":expires", n(now_ms() / 1000 + DELIVERY_RETENTION_SECS))
            .build()
            .map_err(|e| self.failed("TransactWriteItems", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Stores a parked event and, when given, marks its delivery claim `parked`, in one transaction.
    ///
    /// # Errors
    /// A DynamoDB failure; then the event is not parked and the caller must answer 5xx.
    pub async fn park(
        &self,
        parked: &mut ParkedEvent,
        finish_delivery: bool,
    ) -> Result<(), StoreError> {
        if parked.id.is_empty() {
            parked.id = format!(
                "{:013}#{}#{}",
                parked.parked_at_ms,
                parked.connection,
                uuid::Uuid::new_v4()
            );
        }
        let data = serde_json::to_string(&parked).expect("parked events serialize");
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .item("pk", s("parked"))
            .item("sk", s(&parked.id))
            .item("data", s(data))
            .build()
            .map_err(|e| self.failed("TransactWriteItems", e))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if finish_delivery {
            items.push(self.finish_update(&parked.delivery_key, "parked")?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| self.failed("TransactWriteItems", e))?;
        Ok(())
    }

    /// Lists parked events, oldest first.
    ///
    /// # Errors
    /// A DynamoDB failure, or a stored record that no longer parses.
    pub async fn list_parked(&self) -> Result<Vec<ParkedEvent>, StoreError> {
        let mut parked = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("parked"))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.failed("Query", e))?;
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let data = item
                .get("data")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let mut event: ParkedEvent =
                serde_json::from_str(&data).map_err(|e| StoreError::InvalidRecord {
                    key: format!("parked/{sk}"),
                    message: e.to_string(),
                })?;
            event.id = sk;
            parked.push(event);
        }
        Ok(parked)
    }

    /// Rewrites a parked event after a failed replay (attempts, error, next attempt).
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn update_parked(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        let data = serde_json::to_string(parked).expect("parked events serialize");
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("parked"))
            .item("sk", s(&parked.id))
            .item("data", s(data))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    /// Deletes a parked event that an operator dropped.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn delete_parked(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("parked"))
            .key("sk", s(id))
            .send()
            .await
            .map_err(|e| self.failed("DeleteItem", e))?;
        Ok(())
    }
}

/// The outcome of [`Store::acquire_lease`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lease {
    /// This caller holds the lease until the given epoch millisecond.
    Held { until_ms: i64 },
    /// Another holder has it until the given epoch millisecond.
    Busy { holder: String, until_ms: i64 },
}

/// An instance whose OAuth credentials the tracker rejected, waiting for an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorMark {
    pub instance: String,
    /// The secret version that was rejected; a new version clears the mark.
    pub secret_version: String,
    /// The tracker's answer, without any credential.
    pub error: String,
    pub marked_at_ms: i64,
}

impl Store {
    /// Takes the lease `name` for `holder` until `hold_ms` from now, unless another holder has an
    /// unexpired one. An expired lease is taken over: its `expires_at` is compared here, because
    /// DynamoDB's TTL may delete it days late.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        hold_ms: i64,
    ) -> Result<Lease, StoreError> {
        let now = now_ms();
        let until_ms = now + hold_ms;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("lease#{name}")))
            .item("sk", s("lease"))
            .item("holder", s(holder))
            .item("lease_until", n(until_ms))
            .item("expires_at", n(until_ms / 1000 + 3600))
            .condition_expression(
                "attribute_not_exists(pk) OR lease_until < :now OR holder = :holder",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":holder", s(holder))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Lease::Held { until_ms }),
            Err(error) => {
                let Some(service) = error.as_service_error() else {
                    return Err(self.failed("PutItem", error));
                };
                let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) = service else {
                    return Err(self.failed("PutItem", error));
                };
                let item = failed.item();
                let holder = item
                    .and_then(|item| item.get("holder"))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let until_ms = item
                    .and_then(|item| item.get("lease_until"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Ok(Lease::Busy { holder, until_ms })
            }
        }
    }

    /// Gives up the lease `name` if `holder` still holds it; a lease taken over meanwhile stays.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("lease#{name}")))
            .key("sk", s("lease"))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(self.failed("DeleteItem", error)),
        }
    }

    /// Records that `mark.instance` needs an operator, replacing an earlier mark.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn mark_needs_operator(&self, mark: &OperatorMark) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("needs_operator"))
            .item("sk", s(&mark.instance))
            .item("secret_version", s(&mark.secret_version))
            .item("error", s(&mark.error))
            .item("marked_at", n(mark.marked_at_ms))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    /// Removes the mark of `instance`, once its credentials work again.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn clear_needs_operator(&self, instance: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("needs_operator"))
            .key("sk", s(instance))
            .send()
            .await
            .map_err(|e| self.failed("DeleteItem", e))?;
        Ok(())
    }

    /// Lists every instance that needs an operator, in one query.
    ///
    /// # Errors
    /// A DynamoDB failure.
    pub async fn list_needs_operator(&self) -> Result<Vec<OperatorMark>, StoreError> {
        let mut marks = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("needs_operator"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.failed("Query", e))?;
            let text = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            marks.push(OperatorMark {
                instance: text("sk"),
                secret_version: text("secret_version"),
                error: text("error"),
                marked_at_ms: item
                    .get("marked_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            });
        }
        Ok(marks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_names_fix() {
        let error = dynamo_error(
            "Query",
            "proxysync-demo",
            "service error: ResourceNotFoundException: Requested resource not found".to_owned(),
        );
        assert!(
            matches!(error, StoreError::MissingTable { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("DynamoDB table proxysync-demo does not exist"),
            "{message}"
        );
        assert!(message.contains("Query failed"), "{message}");
        assert!(message.contains("PROXYSYNC_TABLE"), "{message}");
        assert!(message.contains("proxysync create-table"), "{message}");
    }

    #[test]
    fn other_dynamo_error_kept() {
        let error = dynamo_error(
            "PutItem",
            "proxysync-demo",
            "service error: ConditionalCheckFailedException".to_owned(),
        );
        let message = error.to_string();
        assert!(matches!(error, StoreError::Dynamo { .. }), "{error:?}");
        assert!(
            message.contains("ConditionalCheckFailedException"),
            "{message}"
        );
    }
}
