//! The in-memory issue store of both trackers and its public snapshot types.
//!
//! Timestamps are stored already formatted in each tracker's style, so that snapshots compare
//! directly with API responses and webhook payloads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Copy of everything both trackers store, returned by `Sandbox::state` and `GET /_sandbox/state`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    pub github: GithubState,
    pub jira: JiraState,
}

/// Issues, comments and labels of all GitHub repositories, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GithubState {
    pub issues: Vec<GithubIssue>,
    pub comments: Vec<GithubComment>,
    pub labels: Vec<GithubLabel>,
}

/// A GitHub issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GithubIssue {
    /// Repository as "owner/name", spelled as in the configuration.
    pub repo: String,
    pub number: u64,
    pub id: u64,
    pub node_id: String,
    pub title: String,
    pub body: Option<String>,
    /// "open" or "closed".
    pub state: String,
    /// "completed", "not_planned", "duplicate", "reopened" or `None`.
    pub state_reason: Option<String>,
    /// Label names as the repository spells them.
    pub labels: Vec<String>,
    pub author_id: u64,
    /// Number of comments on the issue.
    pub comments: u64,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub closed_by_id: Option<u64>,
}

/// A comment on a GitHub issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GithubComment {
    pub repo: String,
    pub issue_number: u64,
    pub id: u64,
    pub node_id: String,
    pub body: String,
    pub author_id: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// A repository label. Labels are created the first time an issue uses their name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GithubLabel {
    pub repo: String,
    pub id: u64,
    pub node_id: String,
    pub name: String,
    /// Six hex digits without "#".
    pub color: String,
    pub description: Option<String>,
}

/// Issues, comments and remote links of all Jira projects, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JiraState {
    pub issues: Vec<JiraIssue>,
    pub comments: Vec<JiraComment>,
    pub remote_links: Vec<JiraRemoteLink>,
}

/// A Jira issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraIssue {
    /// Numeric issue id as a string, such as "10001".
    pub id: String,
    /// Issue key, such as "SUP-1".
    pub key: String,
    pub project_key: String,
    /// Issue type name, such as "Task".
    pub issue_type: String,
    pub summary: String,
    /// Description as an Atlassian Document Format document, or `None`.
    pub description: Option<Value>,
    pub labels: Vec<String>,
    /// Status name: "To Do", "In Progress" or "Done".
    pub status: String,
    pub creator_account_id: String,
    pub reporter_account_id: String,
    pub created: String,
    pub updated: String,
    pub status_category_changed: String,
    /// Time of the last move into "Done", cleared when the issue leaves it.
    pub resolution_date: Option<String>,
    /// Issue entity properties by key, as set with `properties` on create.
    #[serde(default)]
    pub properties: std::collections::BTreeMap<String, Value>,
}

/// A comment on a Jira issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraComment {
    pub id: String,
    pub issue_id: String,
    /// Body as an Atlassian Document Format document.
    pub body: Value,
    pub author_account_id: String,
    pub update_author_account_id: String,
    pub created: String,
    pub updated: String,
}

/// A remote link on a Jira issue, as created with `POST .../remotelink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraRemoteLink {
    pub id: u64,
    pub issue_id: String,
    pub global_id: Option<String>,
    pub url: String,
    pub title: String,
    /// The `object` of the request, including `url` and `title`.
    pub object: Value,
    pub application: Option<Value>,
    pub relationship: Option<String>,
}

/// Sequences for generated ids. GitHub ids start above 2^31, as real ones now do, and each kind
/// of id has its own range so that a client mixing up an issue id with a comment id gets 404.
#[derive(Debug, Default)]
pub(crate) struct IdCounters {
    github_issue: u64,
    github_comment: u64,
    github_label: u64,
    jira_issue: u64,
    jira_comment: u64,
    jira_remote_link: u64,
    jira_changelog: u64,
}

impl IdCounters {
    pub(crate) fn next_github_issue(&mut self) -> u64 {
        self.github_issue += 1;
        3_000_000_000 + self.github_issue
    }

    pub(crate) fn next_github_comment(&mut self) -> u64 {
        self.github_comment += 1;
        4_000_000_000 + self.github_comment
    }

    pub(crate) fn next_github_label(&mut self) -> u64 {
        self.github_label += 1;
        5_000_000_000 + self.github_label
    }

    pub(crate) fn next_jira_issue(&mut self) -> String {
        self.jira_issue += 1;
        (10_000 + self.jira_issue).to_string()
    }

    pub(crate) fn next_jira_comment(&mut self) -> String {
        self.jira_comment += 1;
        (30_000 + self.jira_comment).to_string()
    }

    pub(crate) fn next_jira_remote_link(&mut self) -> u64 {
        self.jira_remote_link += 1;
        50_000 + self.jira_remote_link
    }

    pub(crate) fn next_jira_changelog(&mut self) -> String {
        self.jira_changelog += 1;
        (70_000 + self.jira_changelog).to_string()
    }
}

/// Everything `POST /_sandbox/reset` clears: the stored records and the id sequences.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) github: GithubState,
    pub(crate) jira: JiraState,
    pub(crate) ids: IdCounters,
}

impl Store {
    pub(crate) fn snapshot(&self) -> StateSnapshot {
        StateSnapshot {
            github: self.github.clone(),
            jira: self.jira.clone(),
        }
    }
}
