//! The fake Jira Data Center REST API (v2), mounted under `/jira-dc`.
//!
//! Text fields are wiki markup strings and users are identified by their key (`JIRAUSER…`),
//! as on a real server. Requests authenticate with a personal access token (`Bearer`) or
//! with Basic `name:password`. Every write records the webhooks Jira Data Center 8.x sends:
//! `jira:issue_created`, `jira:issue_updated` (also for comments, with
//! `issue_event_type_name` `issue_commented`, `issue_comment_edited` or
//! `issue_comment_deleted`), and a `comment_*` event that, as on the server, carries the
//! comment without its issue. Webhooks have no delivery id header; they carry
//! `X-Hub-Signature` when the configured secret is not empty.

mod events;
mod handlers;
mod render;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post, put};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::clock::LogicalClock;
use crate::jira::error::JiraError;

/// Users, projects and the webhook secret of the fake Jira Data Center server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraDcConfig {
    pub users: Vec<JiraDcUser>,
    /// Project keys of Jira Software projects, such as "OPS".
    pub projects: Vec<String>,
    /// Project keys of Jira Service Management projects.
    #[serde(default)]
    pub service_desk_projects: Vec<String>,
    /// Key of the `X-Hub-Signature` HMAC. Empty leaves webhooks unsigned, as on versions
    /// without webhook secrets.
    pub webhook_secret: String,
}

/// A Jira Data Center account with its personal access token and password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraDcUser {
    /// The stable user key, such as "JIRAUSER10100".
    pub key: String,
    /// The login name, which an admin can rename.
    pub name: String,
    pub display_name: String,
    pub email: String,
    pub token: String,
    pub password: String,
    /// Permission keys that `mypermissions` reports as not granted, in every project.
    #[serde(default)]
    pub missing_permissions: Vec<String>,
    /// The user's time zone, an IANA name such as "Europe/Berlin", in which JQL dates are read.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_time_zone() -> String {
    "Europe/Berlin".to_owned()
}

impl JiraDcConfig {
    /// Builds the demo server: the proxy user "proxysync" and the human "bob", the software
    /// project OPS and the service desk project HELP.
    pub fn demo() -> Self {
        JiraDcConfig {
            users: vec![
                JiraDcUser {
                    key: "JIRAUSER10100".to_owned(),
                    name: "proxysync".to_owned(),
                    display_name: "ProxySync Bot".to_owned(),
                    email: "proxysync-bot@acme.example".to_owned(),
                    token: "sandbox-jira-dc-pat-proxysync".to_owned(),
                    password: "sandbox-jira-dc-password-proxysync".to_owned(),
                    missing_permissions: Vec::new(),
                    time_zone: default_time_zone(),
                },
                JiraDcUser {
                    key: "JIRAUSER10200".to_owned(),
                    name: "bob".to_owned(),
                    display_name: "Bob Example".to_owned(),
                    email: "bob@acme.example".to_owned(),
                    token: "sandbox-jira-dc-pat-bob".to_owned(),
                    password: "sandbox-jira-dc-password-bob".to_owned(),
                    missing_permissions: vec!["DELETE_OWN_WORKLOGS".to_owned()],
                    time_zone: default_time_zone(),
                },
            ],
            projects: vec!["OPS".to_owned()],
            service_desk_projects: vec!["HELP".to_owned()],
            webhook_secret: "sandbox-jira-dc-webhook-secret".to_owned(),
        }
    }

    fn project_exists(&self, key: &str) -> bool {
        self.projects
            .iter()
            .chain(&self.service_desk_projects)
            .any(|known| known.eq_ignore_ascii_case(key))
    }
}

/// Issues, comments and remote links of the fake Jira Data Center, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JiraDcState {
    pub issues: Vec<JiraDcIssue>,
    pub comments: Vec<JiraDcComment>,
    pub remote_links: Vec<JiraDcRemoteLink>,
}

/// A Jira Data Center issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraDcIssue {
    pub id: String,
    pub key: String,
    pub project_key: String,
    pub issue_type: String,
    pub summary: String,
    /// Description in wiki markup.
    pub description: Option<String>,
    pub labels: Vec<String>,
    /// Status name of the shared sandbox workflow: "To Do", "In Progress" or "Done".
    pub status: String,
    pub creator_key: String,
    pub created: String,
    pub updated: String,
}

/// A comment, with its body in wiki markup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraDcComment {
    pub id: String,
    pub issue_id: String,
    pub body: String,
    pub author_key: String,
    pub update_author_key: String,
    pub created: String,
    pub updated: String,
}

/// A remote link, as created with `POST .../remotelink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraDcRemoteLink {
    pub id: u64,
    pub issue_id: String,
    pub url: String,
    pub title: String,
}

/// The stored records, the id sequence and the clock of the fake server.
#[derive(Debug)]
pub(crate) struct DcStore {
    pub(crate) state: JiraDcState,
    next_id: u64,
    pub(crate) clock: LogicalClock,
    /// Permission keys taken from users at run time, by user key.
    denied: HashMap<String, Vec<String>>,
    /// Time zones set at run time in place of the configured ones, by user key.
    time_zones: HashMap<String, String>,
}

impl Default for DcStore {
    fn default() -> Self {
        DcStore {
            state: JiraDcState::default(),
            next_id: 0,
            clock: LogicalClock::jira(),
            denied: HashMap::new(),
            time_zones: HashMap::new(),
        }
    }
}

impl DcStore {
    /// Returns the next id; issues, comments, links and changelogs share one sequence.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        20_000 + self.next_id
    }

    /// Clears the records and the run-time permissions and time zones, and keeps the clock, so
    /// timestamps never go backwards.
    pub(crate) fn reset(&mut self) {
        self.state = JiraDcState::default();
        self.next_id = 0;
        self.denied.clear();
        self.time_zones.clear();
    }

    /// Sets the time zone of the user with `user_key`, in place of the configured one.
    pub(crate) fn set_time_zone(&mut self, user_key: &str, zone: &str) {
        self.time_zones.insert(user_key.to_owned(), zone.to_owned());
    }

    /// Returns the time zone of `user`: the one set at run time, or the configured one.
    pub(crate) fn time_zone<'a>(&'a self, user: &'a JiraDcUser) -> &'a str {
        self.time_zones
            .get(&user.key)
            .map_or(user.time_zone.as_str(), String::as_str)
    }

    /// Takes `permission` from the user with `user_key`, in every project.
    pub(crate) fn deny(&mut self, user_key: &str, permission: &str) {
        self.denied
            .entry(user_key.to_owned())
            .or_default()
            .push(permission.to_owned());
    }

    /// Returns true unless the configuration or [`DcStore::deny`] took `permission` from `user`.
    pub(crate) fn has_permission(&self, user: &JiraDcUser, permission: &str) -> bool {
        let configured = user.missing_permissions.iter().any(|key| key == permission);
        let denied = self
            .denied
            .get(&user.key)
            .is_some_and(|keys| keys.iter().any(|key| key == permission));
        !configured && !denied
    }
}

/// The authenticated Jira Data Center user, put in the request extensions by the gateway.
#[derive(Debug, Clone)]
pub(crate) struct JiraDcCaller(pub(crate) JiraDcUser);

/// Finds the user of a `Bearer <personal access token>` or `Basic name:password` header.
pub(crate) fn authenticate(
    config: &JiraDcConfig,
    headers: &HeaderMap,
) -> Result<JiraDcUser, JiraError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(JiraError::unauthorized)?;
    let (scheme, credential) = value
        .trim()
        .split_once(' ')
        .ok_or_else(JiraError::unauthorized)?;
    let found = if scheme.eq_ignore_ascii_case("bearer") {
        config
            .users
            .iter()
            .find(|user| user.token == credential.trim())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASE64
            .decode(credential.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(JiraError::unauthorized)?;
        let (name, password) = decoded
            .split_once(':')
            .ok_or_else(JiraError::unauthorized)?;
        config
            .users
            .iter()
            .find(|user| user.name.eq_ignore_ascii_case(name) && user.password == password)
    } else {
        None
    };
    found.cloned().ok_or_else(JiraError::unauthorized)
}

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/rest/api/2/myself", get(handlers::myself))
        .route("/rest/api/2/mypermissions", get(handlers::my_permissions))
        .route("/rest/api/2/search", get(handlers::search))
        .route("/rest/api/2/project/{project}", get(handlers::project))
        .route("/rest/api/2/issue", post(handlers::create_issue))
        .route(
            "/rest/api/2/issue/{issue}",
            get(handlers::get_issue).put(handlers::update_issue),
        )
        .route(
            "/rest/api/2/issue/{issue}/transitions",
            get(handlers::transitions).post(handlers::transition),
        )
        .route(
            "/rest/api/2/issue/{issue}/comment",
            post(handlers::add_comment),
        )
        .route(
            "/rest/api/2/issue/{issue}/comment/{comment_id}",
            put(handlers::update_comment).delete(handlers::delete_comment),
        )
        .route(
            "/rest/api/2/issue/{issue}/remotelink",
            post(handlers::add_remote_link),
        )
        .fallback(handlers::not_found)
}
