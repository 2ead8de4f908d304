//! Test harness: moto's server for DynamoDB and Secrets Manager, the tracker
//! sandbox, and a pipeline wired to both, all on 127.0.0.1.
//!
//! Each test binary starts one moto server; each [`Stack`] gets its own table
//! and secret names, so tests in one binary run in parallel without sharing state.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::config::Credentials as AwsCredentials;
use proxysync_core::config::{Config, Settings};
use proxysync_core::model::{Connection, Direction, Endpoint, Instance, TrackerKind};
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Store;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::{Pipeline, WebhookResponse};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracker_sandbox::{RecordedWebhook, Sandbox, SandboxConfig};

pub use tracker_sandbox;

pub mod aws_proxy;
pub mod corpus;
pub mod moto;
pub mod peers;
pub mod registered;
pub mod round_trip;

/// The GitHub repository and Jira project of the default connection.
pub const REPO: &str = "acme/widgets";
pub const JIRA_PROJECT: &str = "SUP";
/// How long the pipeline waits before it checks a proxy user's event again, kept short here
/// because the harness delivers webhooks only after each write is stored.
pub const PROXY_CHECK_DELAY_MS: &str = "200";

static MOTO: OnceCell<String> = OnceCell::const_new();

/// The root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The moto server binary: `MOTO_SERVER`, or `.venv/bin/moto_server` in the repository.
pub fn moto_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let local = repo_root().join(".venv/bin/moto_server");
    if local.exists() {
        return local;
    }
    panic!(
        "moto_server not found at {}: run `bash infra/local/setup.sh` or set MOTO_SERVER",
        local.display()
    );
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Starts moto's server once per test binary and returns its endpoint URL.
///
/// The server runs under a shell that stops it when this test process exits,
/// because a static is never dropped.
pub async fn moto_endpoint() -> String {
    MOTO.get_or_init(|| async {
        let port = free_port();
        let binary = moto_binary();
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & server=$!; \
             while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $server",
            binary.display(),
            parent = std::process::id()
        );
        // The watcher shell outlives nothing: it exits with this process, so it is not waited on.
        let watcher = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .spawn()
            .expect("start moto_server");
        std::mem::forget(watcher);

        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        endpoint
    })
    .await
    .clone()
}

/// AWS SDK configuration pointed at `endpoint` with dummy keys.
pub async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = AwsCredentials::new("testing", "testing", None, None, "proxysync-tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await
}

/// Creates a table with proxysync's key schema.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("create table");
}

/// The local stack of one test: its own table and secrets, the sandbox, and a pipeline.
pub struct Stack {
    pub sandbox: Sandbox,
    pub pipeline: Pipeline,
    pub store: Store,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub secrets_client: aws_sdk_secretsmanager::Client,
    pub config: Config,
    pub sandbox_config: SandboxConfig,
    pub table: String,
    pub github_secret_id: String,
    pub jira_secret_id: String,
}

/// Options of [`Stack::start`].
#[derive(Clone, Debug)]
pub struct StackOptions {
    pub sync_budget: Duration,
    pub direction: Direction,
    /// The endpoint of a moto server of the test's own, such as a [`moto::PrivateMoto`].
    /// `None` uses the moto server shared by the test binary.
    pub moto_endpoint: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            sync_budget: Duration::from_secs(5),
            direction: Direction::Both,
            moto_endpoint: None,
        }
    }
}

impl Stack {
    /// Starts a stack with the default options.
    pub async fn start() -> Stack {
        Stack::start_with(StackOptions::default()).await
    }

    /// Starts a stack: a fresh table, two instance secrets, the sandbox, and
    /// instances registered through the trackers' "who am I" calls.
    pub async fn start_with(options: StackOptions) -> Stack {
        let endpoint = match &options.moto_endpoint {
            Some(endpoint) => endpoint.clone(),
            None => moto_endpoint().await,
        };
        let aws = aws_config(&endpoint).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let secrets_client = aws_sdk_secretsmanager::Client::new(&aws);
        let run = uuid::Uuid::new_v4().simple().to_string();
        let table = format!("proxysync-{run}");
        create_table(&dynamo, &table).await;

        let sandbox_config = SandboxConfig::demo();
        let sandbox = Sandbox::spawn(sandbox_config.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("start the tracker sandbox");

        let github_secret_id = format!("proxysync/{run}/github");
        let jira_secret_id = format!("proxysync/{run}/jira");
        let github_proxy = &sandbox_config.github.users[0];
        let jira_proxy = &sandbox_config.jira.users[0];
        put_secret(
            &secrets_client,
            &github_secret_id,
            &json!({"token": github_proxy.token, "webhook_secret": sandbox_config.github.webhook_secret}),
        )
        .await;
        put_secret(
            &secrets_client,
            &jira_secret_id,
            &json!({"email": jira_proxy.email, "api_token": jira_proxy.api_token, "webhook_secret": sandbox_config.jira.webhook_secret}),
        )
        .await;

        let settings = Settings::from_lookup(|name| match name {
            "PROXYSYNC_TABLE" => Some(table.clone()),
            "PROXYSYNC_SYNC_BUDGET_MS" => Some(options.sync_budget.as_millis().to_string()),
            "PROXYSYNC_CONFIG_TTL_SECS" => Some("0".to_owned()),
            "PROXYSYNC_PROXY_CHECK_DELAY_MS" => Some(PROXY_CHECK_DELAY_MS.to_owned()),
            _ => None,
        })
        .expect("settings");
        let store = Store::new(dynamo.clone(), table.clone());
        let secrets = Secrets::aws(secrets_client.clone(), Duration::from_secs(900));
        let http = proxysync_core::lambda::http_client().expect("http client");
        let pipeline = Pipeline::new(settings, store.clone(), secrets, http);

        let mut config = Config {
            instances: vec![
                Instance {
                    id: "acme-github".to_owned(),
                    tracker: TrackerKind::Github,
                    base_url: sandbox.github_url(),
                    secret: github_secret_id.clone(),
                    proxy: None,
                    options: Default::default(),
                },
                Instance {
                    id: "acme-jira".to_owned(),
                    tracker: TrackerKind::JiraCloud,
                    base_url: sandbox.jira_url(),
                    secret: jira_secret_id.clone(),
                    proxy: None,
                    options: Default::default(),
                },
            ],
            connections: vec![Connection {
                id: "widgets".to_owned(),
                a: endpoint_of("acme-github", REPO),
                b: endpoint_of("acme-jira", JIRA_PROJECT),
                direction: options.direction,
            }],
        };
        for instance in &mut config.instances {
            let proxy = pipeline
                .whoami(instance)
                .await
                .expect("whoami of the proxy user");
            instance.proxy = Some(proxy);
            store.put_instance(instance).await.expect("store instance");
        }
        for connection in &config.connections {
            store
                .put_connection(connection)
                .await
                .expect("store connection");
        }

        Stack {
            sandbox,
            pipeline,
            store,
            dynamo,
            secrets_client,
            config,
            sandbox_config,
            table,
            github_secret_id,
            jira_secret_id,
        }
    }

    /// Builds another pipeline on this stack's table and stored configuration, with its own
    /// DynamoDB and Secrets Manager endpoints (such as an [`aws_proxy::AwsProxy`]), an empty
    /// secret cache, and `settings` (environment names and values) over the stack's own.
    pub async fn pipeline_with(
        &self,
        dynamo_endpoint: &str,
        secrets_endpoint: &str,
        settings: &[(&str, &str)],
    ) -> Pipeline {
        let budget = self.pipeline.settings().sync_budget.as_millis().to_string();
        let settings = Settings::from_lookup(|name| {
            if let Some((_, value)) = settings.iter().find(|(key, _)| *key == name) {
                return Some((*value).to_owned());
            }
            match name {
                "PROXYSYNC_TABLE" => Some(self.table.clone()),
                "PROXYSYNC_SYNC_BUDGET_MS" => Some(budget.clone()),
                "PROXYSYNC_CONFIG_TTL_SECS" => Some("0".to_owned()),
                "PROXYSYNC_PROXY_CHECK_DELAY_MS" => Some(PROXY_CHECK_DELAY_MS.to_owned()),
                _ => None,
            }
        })
        .expect("settings");
        let dynamo = aws_sdk_dynamodb::Client::new(&aws_config(dynamo_endpoint).await);
        let secrets = aws_sdk_secretsmanager::Client::new(&aws_config(secrets_endpoint).await);
        let store = Store::new(dynamo, self.table.clone());
        let secrets = Secrets::aws(secrets, settings.secret_ttl);
        let http = proxysync_core::lambda::http_client().expect("http client");
        Pipeline::new(settings, store, secrets, http)
    }

    /// Delivers a recorded webhook to `pipeline` instead of the stack's own.
    pub async fn deliver_to(
        &self,
        pipeline: &Pipeline,
        webhook: &RecordedWebhook,
    ) -> WebhookResponse {
        let (route, instance) = Self::route_and_instance(&webhook.tracker);
        let request = InboundRequest {
            headers: webhook
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: webhook.body.clone(),
            ..Default::default()
        };
        let deadline = Instant::now() + pipeline.settings().sync_budget;
        pipeline
            .handle_webhook(route, instance, &request, deadline)
            .await
    }

    /// The route segment for a sandbox tracker name.
    fn route_and_instance(tracker: &str) -> (&'static str, &'static str) {
        match tracker {
            "github" => ("github", "acme-github"),
            "jira" => ("jira", "acme-jira"),
            other => panic!("unknown sandbox tracker {other}"),
        }
    }

    /// Delivers one recorded webhook to the pipeline, as API Gateway would.
    pub async fn deliver(&self, webhook: &RecordedWebhook) -> WebhookResponse {
        let (route, instance) = Self::route_and_instance(&webhook.tracker);
        let answer = self
            .deliver_raw(
                route,
                instance,
                webhook.headers.clone(),
                webhook.body.clone(),
            )
            .await;
        // The sandbox's hook delivery log shows the answer, as GitHub's does.
        if let Some(guid) = webhook.header("X-GitHub-Delivery") {
            self.sandbox.set_github_delivery_status(guid, answer.status);
        }
        answer
    }

    /// Delivers a request with explicit headers and body.
    pub async fn deliver_raw(
        &self,
        route: &str,
        instance: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> WebhookResponse {
        let request = InboundRequest {
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
            ..Default::default()
        };
        let deadline = Instant::now() + self.pipeline.settings().sync_budget;
        self.pipeline
            .handle_webhook(route, instance, &request, deadline)
            .await
    }

    /// Drains the sandbox's recorded webhooks and delivers each in order,
    /// returning the tracker of each with the pipeline's answer.
    pub async fn pump(&self) -> Vec<(String, WebhookResponse)> {
        let mut answers = Vec::new();
        for webhook in self.sandbox.take_webhooks() {
            let answer = self.deliver(&webhook).await;
            answers.push((webhook.tracker.clone(), answer));
        }
        answers
    }

    /// Delivers webhooks until the trackers stop producing new ones, at most `rounds` times.
    ///
    /// Returns every answer; a sync loop shows up as rounds that never run dry.
    pub async fn pump_until_quiet(&self, rounds: usize) -> Vec<(String, WebhookResponse)> {
        let mut all = Vec::new();
        for _ in 0..rounds {
            let answers = self.pump().await;
            if answers.is_empty() {
                return all;
            }
            all.extend(answers);
        }
        panic!(
            "trackers still produce webhooks after {rounds} rounds: a sync loop. Answers: {all:#?}"
        );
    }

    /// A client that acts on the sandbox as a human user (index 1 of each tracker's users).
    pub fn human(&self) -> Human {
        Human {
            http: reqwest::Client::new(),
            github_url: self.sandbox.github_url(),
            jira_url: self.sandbox.jira_url(),
            github_token: self.sandbox_config.github.users[1].token.clone(),
            jira_email: self.sandbox_config.jira.users[1].email.clone(),
            jira_token: self.sandbox_config.jira.users[1].api_token.clone(),
        }
    }

    /// Counts the table's items whose partition key starts with `prefix`.
    pub async fn count_items(&self, prefix: &str) -> usize {
        let scan = self
            .dynamo
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan");
        scan.items()
            .iter()
            .filter(|item| {
                item.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|pk| pk.starts_with(prefix))
            })
            .count()
    }
}

fn endpoint_of(instance: &str, project: &str) -> Endpoint {
    Endpoint {
        instance: instance.to_owned(),
        project: project.to_owned(),
        issue_type: None,
        closed_status: None,
        open_status: None,
        options: Default::default(),
    }
}

async fn put_secret(client: &aws_sdk_secretsmanager::Client, id: &str, value: &Value) {
    client
        .create_secret()
        .name(id)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create secret");
}

/// A human user acting on the sandbox through its REST API.
pub struct Human {
    http: reqwest::Client,
    github_url: String,
    jira_url: String,
    github_token: String,
    jira_email: String,
    jira_token: String,
}

impl Human {
    /// Sends a GitHub REST call as the human and returns the JSON answer.
    pub async fn github(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.github_url))
            .bearer_auth(&self.github_token)
            .header("user-agent", "proxysync-tests");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("GitHub sandbox call");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "GitHub sandbox answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Sends a Jira REST call as the human and returns the JSON answer.
    pub async fn jira(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.jira_url))
            .basic_auth(&self.jira_email, Some(&self.jira_token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("Jira sandbox call");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "Jira sandbox answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}
