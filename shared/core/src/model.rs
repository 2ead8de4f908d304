//! Tracker-neutral types: instances, connections and normalized change events.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of work tracker that proxysync can sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrackerKind {
    Github,
    JiraCloud,
    JiraDc,
    AzureDevops,
    Servicenow,
    Zendesk,
    Salesforce,
    HpAlm,
}

impl TrackerKind {
    /// All tracker kinds, in the order the configuration documents them.
    pub const ALL: [TrackerKind; 8] = [
        TrackerKind::Github,
        TrackerKind::JiraCloud,
        TrackerKind::JiraDc,
        TrackerKind::AzureDevops,
        TrackerKind::Servicenow,
        TrackerKind::Zendesk,
        TrackerKind::Salesforce,
        TrackerKind::HpAlm,
    ];

    /// The configuration name, as in `tracker: jira-cloud`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackerKind::Github => "github",
            TrackerKind::JiraCloud => "jira-cloud",
            TrackerKind::JiraDc => "jira-dc",
            TrackerKind::AzureDevops => "azure-devops",
            TrackerKind::Servicenow => "servicenow",
            TrackerKind::Zendesk => "zendesk",
            TrackerKind::Salesforce => "salesforce",
            TrackerKind::HpAlm => "hp-alm",
        }
    }

    /// The `{tracker}` segment of the webhook route that serves this kind.
    pub fn route(self) -> &'static str {
        match self {
            TrackerKind::JiraCloud | TrackerKind::JiraDc => "jira",
            other => other.as_str(),
        }
    }

    /// The name people use for the tracker, for comments and messages.
    pub fn display_name(self) -> &'static str {
        match self {
            TrackerKind::Github => "GitHub",
            TrackerKind::JiraCloud => "Jira",
            TrackerKind::JiraDc => "Jira Data Center",
            TrackerKind::AzureDevops => "Azure DevOps",
            TrackerKind::Servicenow => "ServiceNow",
            TrackerKind::Zendesk => "Zendesk",
            TrackerKind::Salesforce => "Salesforce",
            TrackerKind::HpAlm => "HP ALM/QC",
        }
    }

    /// Parses a configuration name such as `github` or `jira-cloud`.
    pub fn parse(name: &str) -> Option<TrackerKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for TrackerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The account that proxysync acts as on one tracker instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyIdentity {
    /// The tracker's stable account id (GitHub user id, Jira accountId).
    pub id: String,
    /// The login or display name, for messages only; never compared.
    #[serde(default)]
    pub name: String,
}

/// One tracker site and the proxy user that proxysync writes as.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The `{instance}` segment of the webhook URL.
    pub id: String,
    pub tracker: TrackerKind,
    /// The API base, such as `https://api.github.com` or `https://acme.atlassian.net`.
    pub base_url: String,
    /// The Secrets Manager secret id that contains the proxy credentials.
    pub secret: String,
    /// The proxy identity, written by `proxysync instance add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyIdentity>,
    /// Tracker-specific settings of the instance; each tracker module documents and checks its keys.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// Which way changes flow through a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    #[serde(rename = "a-to-b")]
    AToB,
    #[serde(rename = "b-to-a")]
    BToA,
    #[default]
    #[serde(rename = "both")]
    Both,
}

/// One side of a connection: an instance and the project on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub instance: String,
    /// `owner/repo` on GitHub, the project key on Jira.
    pub project: String,
    /// The issue type of issues created on this side (Jira), `Task` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    /// The status an issue moves to when the other side closes it (Jira), `Done` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_status: Option<String>,
    /// The status an issue moves to when the other side reopens it (Jira), `To Do` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_status: Option<String>,
    /// Tracker-specific settings of this side (such as a ServiceNow table); each tracker module checks its keys.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// Two projects kept in sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub id: String,
    pub a: Endpoint,
    pub b: Endpoint,
    #[serde(default)]
    pub direction: Direction,
}

impl Connection {
    /// Returns the (source, target) endpoints when a change on `instance`'s
    /// `project` flows through this connection.
    pub fn route(&self, instance: &str, project: &str) -> Option<(&Endpoint, &Endpoint)> {
        let from_a = self.a.instance == instance && self.a.project == project;
        let from_b = self.b.instance == instance && self.b.project == project;
        match self.direction {
            Direction::AToB | Direction::Both if from_a => Some((&self.a, &self.b)),
            Direction::BToA | Direction::Both if from_b => Some((&self.b, &self.a)),
            _ => None,
        }
    }
}

/// An issue on one tracker: its stable id, display key and web address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    /// The id used in API paths: the issue number on GitHub, the key on Jira.
    pub key: String,
    /// The id that never changes, even when the issue moves (GitHub node id, Jira numeric id).
    pub id: String,
    pub url: String,
}

/// Whether an issue is open or closed, the state every tracker shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    Open,
    Closed,
}

/// A person or account that made a change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The stable account id compared with the proxy identity.
    pub id: String,
    /// The login or display name, used in attribution lines.
    pub name: String,
}

/// The synced fields of an issue, with the description as Markdown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueContent {
    pub title: String,
    pub body: String,
    pub state: IssueState,
    pub labels: Vec<String>,
}

/// A comment, with its body as Markdown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentContent {
    pub id: String,
    pub body: String,
    pub author: Author,
}

/// A field of an issue that an update touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Body,
    State,
    Labels,
}

/// What happened to an issue, in tracker-neutral terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    IssueCreated,
    IssueUpdated {
        fields: Vec<Field>,
        #[serde(default)]
        labels_added: Vec<String>,
        #[serde(default)]
        labels_removed: Vec<String>,
    },
    CommentCreated {
        comment: CommentContent,
    },
    CommentUpdated {
        comment: CommentContent,
    },
    CommentDeleted {
        comment_id: String,
    },
}

/// One change on one issue, normalized from a tracker's webhook or poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// The tracker's own name for the event, such as `issues.edited`.
    pub kind: String,
    pub tracker: TrackerKind,
    pub instance: String,
    pub project: String,
    pub issue: IssueRef,
    /// The issue's state after the change, as the event reports it.
    pub content: IssueContent,
    pub author: Author,
    /// When the change happened on the tracker, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub change: Change,
}

impl ChangeEvent {
    /// Returns true when the change is to the issue itself rather than to a comment.
    pub fn is_issue_change(&self) -> bool {
        matches!(
            self.change,
            Change::IssueCreated | Change::IssueUpdated { .. }
        )
    }
}
