//! A moto server owned by one test, which the test may stop and start again, and a copy of
//! what it stores, since moto keeps its state in memory and loses it when stopped.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::time::Instant;

use crate::{create_table, free_port, moto_binary};

/// A moto server process on a loopback port of its own. Dropping it stops the process.
pub struct PrivateMoto {
    port: u16,
    child: Option<Child>,
}

impl PrivateMoto {
    /// Starts moto's server on a free port and waits until it accepts connections.
    pub async fn start() -> PrivateMoto {
        let mut moto = PrivateMoto {
            port: free_port(),
            child: None,
        };
        moto.spawn().await;
        moto
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server at once (SIGKILL), as a crashed or unreachable service.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with empty state.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a private moto_server");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "private moto_server did not listen on port {} within 30 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The items of one table and the values of every secret, copied from a moto server.
#[derive(Clone, Debug, Default)]
pub struct AwsSnapshot {
    pub items: Vec<HashMap<String, AttributeValue>>,
    pub secrets: Vec<(String, String)>,
}

impl AwsSnapshot {
    /// Copies every item of `table` and every secret.
    pub async fn take(
        dynamo: &aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
        table: &str,
    ) -> AwsSnapshot {
        let items: Vec<_> = dynamo
            .scan()
            .table_name(table)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("scan the table for a snapshot");
        let mut snapshot = AwsSnapshot {
            items,
            secrets: Vec::new(),
        };
        let listed = secrets
            .list_secrets()
            .max_results(100)
            .send()
            .await
            .expect("list secrets for a snapshot");
        for entry in listed.secret_list() {
            let name = entry.name().expect("listed secrets have names");
            let value = secrets
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
                .expect("read a secret for a snapshot");
            let text = value.secret_string().unwrap_or_default().to_owned();
            snapshot.secrets.push((name.to_owned(), text));
        }
        snapshot
    }

    /// Creates `table` and the secrets again on an empty server and writes the copied state.
    pub async fn restore(
        &self,
        dynamo: &aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
        table: &str,
    ) {
        create_table(dynamo, table).await;
        for item in &self.items {
            dynamo
                .put_item()
                .table_name(table)
                .set_item(Some(item.clone()))
                .send()
                .await
                .expect("restore an item");
        }
        for (name, value) in &self.secrets {
            secrets
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .expect("restore a secret");
        }
    }
}
