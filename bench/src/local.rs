//! The local stack of the benchmark: moto's server and the tracker sandbox as processes on
//! loopback, the table, secrets, instances and linked issues, and the webhooks that people's
//! edits on the sandbox produce.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use proxysync_core::Pipeline;
use proxysync_core::config::Settings;
use proxysync_core::model::{
    Connection, Direction, Endpoint, Instance, ProxyIdentity, TrackerKind,
};
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Store;
use proxysync_core::tracker::InboundRequest;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracker_sandbox::SandboxConfig;

/// The GitHub repository and Jira project that the benchmark connection links.
pub const REPO: &str = "acme/widgets";
pub const JIRA_PROJECT: &str = "SUP";
pub const GITHUB_SECRET: &str = "proxysync/bench/github";
pub const JIRA_SECRET: &str = "proxysync/bench/jira";

/// A child process that is killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and waits until `port` on loopback accepts connections.
async fn start_server(mut command: Command, port: u16, what: &str) -> anyhow::Result<Server> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("could not start {what}"))?;
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{what} did not listen on port {port} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(server)
}

/// One webhook as the sandbox recorded it.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub tracker: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A GitHub issue and the Jira issue it is linked with.
#[derive(Clone, Debug)]
pub struct LinkedIssue {
    pub number: u64,
    pub jira_key: String,
}

/// The running servers and clients of the benchmark.
pub struct Local {
    pub moto: Server,
    pub sandbox: Server,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub http: reqwest::Client,
    pub config: SandboxConfig,
}

impl Local {
    /// Starts moto's server and the sandbox binary, and writes the two instance secrets.
    pub async fn start(root: &Path, sandbox_binary: &Path) -> anyhow::Result<Local> {
        let moto_port = proxysync_tests::free_port();
        let mut moto = Command::new(root.join(".venv/bin/moto_server"));
        moto.args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]);
        let moto = start_server(moto, moto_port, "moto_server").await?;

        let sandbox_port = proxysync_tests::free_port();
        let mut sandbox = Command::new(sandbox_binary);
        sandbox
            .args(["--listen", &format!("127.0.0.1:{sandbox_port}")])
            .env("RUST_LOG", "warn");
        let sandbox = start_server(sandbox, sandbox_port, "tracker-sandbox").await?;

        let aws = proxysync_tests::aws_config(&moto.url).await;
        let local = Local {
            dynamo: aws_sdk_dynamodb::Client::new(&aws),
            secrets: aws_sdk_secretsmanager::Client::new(&aws),
            moto,
            sandbox,
            http: reqwest::Client::builder().no_proxy().build()?,
            config: SandboxConfig::demo(),
        };
        local.put_secrets().await?;
        Ok(local)
    }

    pub fn github_url(&self) -> String {
        format!("{}/github", self.sandbox.url)
    }

    pub fn jira_url(&self) -> String {
        format!("{}/jira", self.sandbox.url)
    }

    async fn put_secrets(&self) -> anyhow::Result<()> {
        let github = &self.config.github;
        let jira = &self.config.jira;
        let values = [
            (
                GITHUB_SECRET,
                json!({"token": github.users[0].token, "webhook_secret": github.webhook_secret}),
            ),
            (
                JIRA_SECRET,
                json!({"email": jira.users[0].email, "api_token": jira.users[0].api_token,
                       "webhook_secret": jira.webhook_secret}),
            ),
        ];
        for (name, value) in values {
            self.secrets
                .create_secret()
                .name(name)
                .secret_string(value.to_string())
                .send()
                .await
                .with_context(|| format!("could not create secret {name}"))?;
        }
        Ok(())
    }

    /// Creates `table` with the two instances (tracker calls going to `github_url` and
    /// `jira_url`) and their connection, opens `count` GitHub issues with `body`, and syncs
    /// each to Jira through an in-process pipeline.
    pub async fn setup_table(
        &self,
        table: &str,
        github_url: &str,
        jira_url: &str,
        count: usize,
        body: &str,
    ) -> anyhow::Result<Vec<LinkedIssue>> {
        proxysync_tests::create_table(&self.dynamo, table).await;
        let store = Store::new(self.dynamo.clone(), table);
        let github_proxy = &self.config.github.users[0];
        let jira_proxy = &self.config.jira.users[0];
        let instances = [
            Instance {
                id: "acme-github".to_owned(),
                tracker: TrackerKind::Github,
                base_url: github_url.to_owned(),
                secret: GITHUB_SECRET.to_owned(),
                proxy: Some(ProxyIdentity {
                    id: github_proxy.id.to_string(),
                    name: github_proxy.login.clone(),
                }),
                options: Default::default(),
            },
            Instance {
                id: "acme-jira".to_owned(),
                tracker: TrackerKind::JiraCloud,
                base_url: jira_url.to_owned(),
                secret: JIRA_SECRET.to_owned(),
                proxy: Some(ProxyIdentity {
                    id: jira_proxy.account_id.clone(),
                    name: jira_proxy.display_name.clone(),
                }),
                options: Default::default(),
            },
        ];
        for instance in &instances {
            store.put_instance(instance).await?;
        }
        let endpoint = |instance: &str, project: &str| Endpoint {
            instance: instance.to_owned(),
            project: project.to_owned(),
            issue_type: None,
            closed_status: None,
            open_status: None,
            options: Default::default(),
        };
        store
            .put_connection(&Connection {
                id: "widgets".to_owned(),
                a: endpoint("acme-github", REPO),
                b: endpoint("acme-jira", JIRA_PROJECT),
                direction: Direction::Both,
            })
            .await?;

        let pipeline = self.pipeline(table)?;
        let mut linked = Vec::new();
        for index in 0..count {
            let title = format!("Bench issue {index} in {table}");
            let created = self
                .github_as_human(
                    reqwest::Method::POST,
                    &format!("/repos/{REPO}/issues"),
                    json!({"title": title, "body": body}),
                )
                .await?;
            let number = created["number"].as_u64().context("issue number")?;
            let webhook = self.take_one("github").await?;
            let answer = deliver(&pipeline, &webhook).await;
            if answer.status != 200 {
                bail!("setup sync of issue {number} failed: {}", answer.body);
            }
            let key = answer.body["events"][0]["target"]
                .as_str()
                .context("the setup sync named no Jira key")?
                .to_owned();
            linked.push(LinkedIssue {
                number,
                jira_key: key,
            });
            // The link comment and the remote link come back as the proxy user's webhooks.
            self.drain().await?;
        }
        Ok(linked)
    }

    fn pipeline(&self, table: &str) -> anyhow::Result<Pipeline> {
        let settings =
            Settings::from_lookup(|name| (name == "PROXYSYNC_TABLE").then(|| table.to_owned()))?;
        let store = Store::new(self.dynamo.clone(), table);
        let secrets = Secrets::aws(self.secrets.clone(), settings.secret_ttl);
        let http = proxysync_core::lambda::http_client()?;
        Ok(Pipeline::new(settings, store, secrets, http))
    }

    /// Sends a GitHub REST call as the human user and returns the JSON response.
    pub async fn github_as_human(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let token = &self.config.github.users[1].token;
        self.github_as(token, method, path, body).await
    }

    /// Sends a GitHub REST call with `token` and returns the JSON response.
    pub async fn github_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.github_url()))
            .bearer_auth(token)
            .header("user-agent", "proxysync-bench")
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("GitHub sandbox call {path} failed with {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Changes a Jira issue's summary as the human user.
    pub async fn jira_rename(&self, key: &str, summary: &str) -> anyhow::Result<()> {
        let user = &self.config.jira.users[1];
        let response = self
            .http
            .put(format!("{}/rest/api/3/issue/{key}", self.jira_url()))
            .basic_auth(&user.email, Some(&user.api_token))
            .json(&json!({"fields": {"summary": summary}}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "Jira sandbox rename of {key} failed with {}",
                response.status()
            );
        }
        Ok(())
    }

    /// Renames GitHub issue `number`, as the human or as the proxy user.
    pub async fn github_rename(
        &self,
        number: u64,
        title: &str,
        as_proxy: bool,
    ) -> anyhow::Result<()> {
        let token = if as_proxy {
            &self.config.github.users[0].token
        } else {
            &self.config.github.users[1].token
        };
        let path = format!("/repos/{REPO}/issues/{number}");
        self.github_as(
            token,
            reqwest::Method::PATCH,
            &path,
            json!({"title": title}),
        )
        .await?;
        Ok(())
    }

    /// Takes the recorded webhooks from the sandbox.
    pub async fn take(&self) -> anyhow::Result<Vec<Webhook>> {
        let url = format!("{}/_sandbox/webhooks/take", self.sandbox.url);
        let views: Vec<Value> = self.http.post(url).send().await?.json().await?;
        views
            .into_iter()
            .map(|view| {
                let headers = view["headers"]
                    .as_array()
                    .context("webhook headers")?
                    .iter()
                    .filter_map(|pair| {
                        Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned()))
                    })
                    .collect();
                let body = base64_decode(view["body_base64"].as_str().context("webhook body")?)?;
                Ok(Webhook {
                    tracker: view["tracker"].as_str().unwrap_or_default().to_owned(),
                    headers,
                    body,
                })
            })
            .collect()
    }

    /// Takes the recorded webhooks and returns the only one from `tracker`.
    pub async fn take_one(&self, tracker: &str) -> anyhow::Result<Webhook> {
        let mut matching: Vec<Webhook> = self
            .take()
            .await?
            .into_iter()
            .filter(|webhook| webhook.tracker == tracker)
            .collect();
        if matching.len() != 1 {
            bail!(
                "expected one {tracker} webhook, the sandbox recorded {}",
                matching.len()
            );
        }
        Ok(matching.remove(0))
    }

    /// Discards the recorded webhooks (the echoes of the functions' own writes).
    pub async fn drain(&self) -> anyhow::Result<()> {
        self.take().await.map(|_| ())
    }

    /// Returns the summary of Jira issue `key`.
    pub async fn jira_summary(&self, key: &str) -> anyhow::Result<String> {
        let user = &self.config.jira.users[1];
        let issue: Value = self
            .http
            .get(format!("{}/rest/api/3/issue/{key}", self.jira_url()))
            .basic_auth(&user.email, Some(&user.api_token))
            .send()
            .await?
            .json()
            .await?;
        Ok(issue["fields"]["summary"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}

async fn deliver(pipeline: &Pipeline, webhook: &Webhook) -> proxysync_core::WebhookResponse {
    let request = InboundRequest {
        headers: webhook
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect(),
        query: Vec::new(),
        body: webhook.body.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    pipeline
        .handle_webhook("github", "acme-github", &request, deadline)
        .await
}

/// Wraps a webhook in the API Gateway HTTP API (payload version 2.0) event that Lambda
/// receives for `POST /webhooks/{route}/{instance}`.
pub fn api_gateway_event(route: &str, instance: &str, webhook: &Webhook) -> Value {
    let path = format!("/webhooks/{route}/{instance}");
    let headers: serde_json::Map<String, Value> = webhook
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Value::String(value.clone())))
        .collect();
    let now = time::OffsetDateTime::now_utc();
    json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/{tracker}/{instance}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "proxysync-bench"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "POST /webhooks/{tracker}/{instance}",
            "stage": "$default",
            "time": now.to_string(),
            "timeEpoch": now.unix_timestamp() * 1000
        },
        "pathParameters": {"tracker": route, "instance": instance},
        "body": String::from_utf8_lossy(&webhook.body),
        "isBase64Encoded": false
    })
}

/// Returns the build's target directory: `CARGO_TARGET_DIR`, or `target` in the repository.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}
