//! ServiceNow on top of the harness: an instance of the sandbox's ServiceNow with basic or
//! OAuth sign-in, a connection of its `incident` table, and delivery of its webhooks.

#![allow(dead_code)]

use std::time::Duration;

use proxysync_core::WebhookResponse;
use proxysync_core::model::{Connection, Direction, Endpoint, Instance, TrackerKind};
use proxysync_core::oauth::RefreshSettings;
use proxysync_tests::Stack;
use serde_json::{Value, json};

pub const SNOW: &str = "acme-snow";
pub const TABLE: &str = "incident";
pub const CLIENT_ID: &str = "sandbox-servicenow-client";
pub const CLIENT_SECRET: &str = "sandbox-servicenow-client-secret";

/// How the ServiceNow proxy user signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    Basic,
    /// OAuth, with an access token that expires this many seconds from now.
    OAuth {
        expires_in: i64,
    },
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The secret value of an OAuth instance, with tokens freshly issued by the sandbox.
pub fn oauth_secret(stack: &Stack, expires_in: i64) -> Value {
    let (access, refresh) = stack
        .sandbox
        .servicenow()
        .issue_tokens("proxysync.bot", CLIENT_ID);
    json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": refresh,
        "access_token": access,
        "access_token_expires_at": now() + expires_in,
        "webhook_secret": stack.sandbox_config.servicenow.webhook_secret,
    })
}

pub async fn create_secret(stack: &Stack, id: &str, value: &Value) {
    stack
        .secrets_client
        .create_secret()
        .name(id)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create secret");
}

/// Reads the current value of a secret and its version id.
pub async fn read_secret(stack: &Stack, id: &str) -> (Value, String) {
    let output = stack
        .secrets_client
        .get_secret_value()
        .secret_id(id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .expect("read secret");
    let value = serde_json::from_str(output.secret_string().unwrap()).unwrap();
    (value, output.version_id().unwrap().to_owned())
}

/// Registers an instance `id` of the sandbox's ServiceNow with a secret of its own, through
/// the "who am I" call, and returns it with its secret id.
pub async fn add_instance(stack: &Stack, id: &str, sign_in: SignIn) -> (Instance, String) {
    let secret_id = format!("{}/{id}", stack.table);
    let value = match sign_in {
        SignIn::Basic => {
            let bot = &stack.sandbox_config.servicenow.users[0];
            json!({"username": bot.user_name, "password": bot.password,
                   "webhook_secret": stack.sandbox_config.servicenow.webhook_secret})
        }
        SignIn::OAuth { expires_in } => oauth_secret(stack, expires_in),
    };
    create_secret(stack, &secret_id, &value).await;
    let mut instance = Instance {
        id: id.to_owned(),
        tracker: TrackerKind::Servicenow,
        base_url: stack.sandbox.servicenow_url(),
        secret: secret_id.clone(),
        proxy: None,
        options: Default::default(),
    };
    let proxy = stack
        .pipeline
        .whoami(&instance)
        .await
        .expect("whoami of the ServiceNow proxy user");
    instance.proxy = Some(proxy);
    stack
        .store
        .put_instance(&instance)
        .await
        .expect("store instance");
    (instance, secret_id)
}

/// Adds the ServiceNow instance and connects its incidents with `peer_instance`'s `peer_project`.
pub async fn connect(
    stack: &Stack,
    sign_in: SignIn,
    peer_instance: &str,
    peer_project: &str,
) -> String {
    let (_, secret_id) = add_instance(stack, SNOW, sign_in).await;
    let connection = Connection {
        id: format!("snow-{peer_instance}"),
        a: Endpoint {
            instance: SNOW.to_owned(),
            project: TABLE.to_owned(),
            ..Endpoint::default()
        },
        b: Endpoint {
            instance: peer_instance.to_owned(),
            project: peer_project.to_owned(),
            ..Endpoint::default()
        },
        direction: Direction::Both,
    };
    stack
        .store
        .put_connection(&connection)
        .await
        .expect("store connection");
    secret_id
}

/// Delivers every recorded webhook, ServiceNow's included, in order.
pub async fn pump(stack: &Stack) -> Vec<(String, WebhookResponse)> {
    let mut answers = Vec::new();
    for webhook in stack.sandbox.take_webhooks() {
        let answer = if webhook.tracker == "servicenow" {
            stack
                .deliver_raw(
                    "servicenow",
                    SNOW,
                    webhook.headers.clone(),
                    webhook.body.clone(),
                )
                .await
        } else {
            stack.deliver(&webhook).await
        };
        answers.push((webhook.tracker.clone(), answer));
    }
    answers
}

/// Pumps until the trackers are quiet; a sync loop fails the test.
pub async fn pump_until_quiet(stack: &Stack) -> Vec<(String, WebhookResponse)> {
    let mut all = Vec::new();
    for _ in 0..8 {
        let answers = pump(stack).await;
        if answers.is_empty() {
            return all;
        }
        all.extend(answers);
    }
    panic!("trackers still produce webhooks after 8 rounds: a sync loop. {all:#?}");
}

/// A person working on the sandbox's ServiceNow with basic sign-in.
pub struct Agent {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Agent {
    pub fn new(stack: &Stack) -> Agent {
        let alice = &stack.sandbox_config.servicenow.users[1];
        Agent {
            http: reqwest::Client::new(),
            base: stack.sandbox.servicenow_url(),
            user: alice.user_name.clone(),
            password: alice.password.clone(),
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("ServiceNow sandbox call");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "ServiceNow sandbox answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates an incident and returns its record.
    pub async fn create_incident(&self, title: &str, description: &str) -> Value {
        let answer = self
            .call(
                reqwest::Method::POST,
                "/api/now/table/incident",
                Some(json!({"short_description": title, "description": description})),
            )
            .await;
        answer["result"].clone()
    }

    pub async fn patch(&self, sys_id: &str, body: Value) -> Value {
        self.call(
            reqwest::Method::PATCH,
            &format!("/api/now/table/incident/{sys_id}"),
            Some(body),
        )
        .await
    }
}

/// Refresher settings for tests: the defaults with a short request timeout.
pub fn settings() -> RefreshSettings {
    RefreshSettings {
        request_timeout: Duration::from_secs(2),
        ..RefreshSettings::default()
    }
}

/// Counts the token endpoint calls the sandbox received.
pub fn token_calls(stack: &Stack) -> usize {
    stack
        .sandbox
        .requests()
        .iter()
        .filter(|request| request.path.contains("/oauth_token.do"))
        .count()
}
