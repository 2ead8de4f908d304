//! Helpers shared by the integration tests: a sandbox on a free loopback port and clients that
//! authenticate as the demo users.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use sha2::Sha256;
use tracker_sandbox::{RecordedWebhook, Sandbox, SandboxConfig};

/// Starts a sandbox with the demo configuration on 127.0.0.1 and a free port.
pub async fn start() -> Sandbox {
    Sandbox::spawn(SandboxConfig::demo(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts on a free loopback port")
}

/// Builds an HTTP client that sends a User-Agent, which the fake GitHub requires.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("tracker-sandbox-tests")
        .build()
        .unwrap()
}

/// The demo GitHub proxy user's login.
pub const GITHUB_BOT: &str = "proxysync-bot";
/// The demo GitHub human user's login.
pub const GITHUB_HUMAN: &str = "alice-dev";

/// Adds the `Authorization` header of the demo GitHub user `login`.
pub fn as_github(request: RequestBuilder, sandbox: &Sandbox, login: &str) -> RequestBuilder {
    let user = sandbox
        .config()
        .github
        .users
        .iter()
        .find(|user| user.login == login)
        .expect("demo GitHub user exists");
    request
        .bearer_auth(&user.token)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
}

/// Index of the demo Jira proxy user in the configuration.
pub const JIRA_BOT: usize = 0;
/// Index of the demo Jira human user in the configuration.
pub const JIRA_HUMAN: usize = 1;

/// Adds Basic credentials of the demo Jira user at `index`.
pub fn as_jira(request: RequestBuilder, sandbox: &Sandbox, index: usize) -> RequestBuilder {
    let user = &sandbox.config().jira.users[index];
    request.basic_auth(&user.email, Some(&user.api_token))
}

/// Returns the account id of the demo Jira user at `index`.
pub fn jira_account(sandbox: &Sandbox, index: usize) -> String {
    sandbox.config().jira.users[index].account_id.clone()
}

/// Builds a one-paragraph ADF document.
pub fn adf(text: &str) -> Value {
    json!({
        "type": "doc",
        "version": 1,
        "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": text }] }],
    })
}

/// Lowercase hex HMAC-SHA256, computed here independently of the sandbox's own code.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Returns `(event, action)` of a GitHub webhook, such as ("issues", "opened").
pub fn github_event(webhook: &RecordedWebhook) -> (String, String) {
    let event = webhook.header("X-GitHub-Event").unwrap_or("").to_owned();
    let action = webhook.json()["action"].as_str().unwrap_or("").to_owned();
    (event, action)
}

/// Decodes base64 text.
pub fn base64_decode(text: &str) -> Vec<u8> {
    BASE64.decode(text).unwrap()
}

/// Creates an issue in acme/widgets as `login` and returns its JSON.
pub async fn create_github_issue(sandbox: &Sandbox, login: &str, body: Value) -> Value {
    let url = format!("{}/repos/acme/widgets/issues", sandbox.github_url());
    let response = as_github(client().post(url), sandbox, login)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "issue creation failed");
    response.json().await.unwrap()
}

/// Creates a Task in project SUP as the Jira user at `index` and returns the issue key.
pub async fn create_jira_issue(sandbox: &Sandbox, index: usize, summary: &str) -> String {
    let url = format!("{}/rest/api/3/issue", sandbox.jira_url());
    let body = json!({
        "fields": {
            "project": { "key": "SUP" },
            "issuetype": { "name": "Task" },
            "summary": summary,
            "description": adf("Steps to reproduce"),
        }
    });
    let response = as_jira(client().post(url), sandbox, index)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "issue creation failed");
    let created: Value = response.json().await.unwrap();
    created["key"].as_str().unwrap().to_owned()
}
