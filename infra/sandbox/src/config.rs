//! Sandbox configuration: the users, repositories and projects that each fake tracker accepts.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// Configuration of both fake trackers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxConfig {
    pub github: GithubConfig,
    pub jira: JiraConfig,
    #[serde(default = "crate::azure_devops::AzureDevopsConfig::demo")]
    pub azure_devops: crate::azure_devops::AzureDevopsConfig,
    #[serde(default = "crate::zendesk::ZendeskConfig::demo")]
    pub zendesk: crate::zendesk::ZendeskConfig,
    #[serde(default = "crate::jira_dc::JiraDcConfig::demo")]
    pub jira_dc: crate::jira_dc::JiraDcConfig,
    #[serde(default = "crate::servicenow::ServicenowConfig::demo")]
    pub servicenow: crate::servicenow::ServicenowConfig,
    #[serde(default = "crate::salesforce::SalesforceConfig::demo")]
    pub salesforce: crate::salesforce::SalesforceConfig,
    #[serde(default = "crate::hp_alm::HpAlmConfig::demo")]
    pub hp_alm: crate::hp_alm::HpAlmConfig,
}

/// Users, repositories and the webhook secret of the fake GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubConfig {
    pub users: Vec<GithubUser>,
    /// Repositories as "owner/name".
    pub repos: Vec<String>,
    /// Key of the `X-Hub-Signature-256` HMAC on recorded webhooks. An empty secret leaves
    /// webhooks unsigned, as GitHub does for a hook without a secret.
    pub webhook_secret: String,
}

/// A GitHub account and the personal access token that authenticates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubUser {
    pub login: String,
    pub id: u64,
    pub token: String,
    /// Value of the `github-authentication-token-expiration` response header, for example
    /// "2026-12-10 12:00:00 UTC". `None` omits the header, as for a token without expiry.
    #[serde(default)]
    pub token_expiration: Option<String>,
}

/// Users, projects and the webhook secret of the fake Jira Cloud site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraConfig {
    pub users: Vec<JiraUser>,
    /// Project keys, such as "SUP".
    pub projects: Vec<String>,
    /// Key of the `X-Hub-Signature` HMAC on recorded webhooks. An empty secret leaves webhooks
    /// unsigned, as Jira does for an admin webhook without a secret.
    pub webhook_secret: String,
}

/// An Atlassian account and the API token that authenticates it with Basic auth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraUser {
    pub account_id: String,
    pub display_name: String,
    pub email: String,
    pub api_token: String,
}

impl SandboxConfig {
    /// Builds the demo configuration: a proxy user and a human user on each tracker, the
    /// repositories "acme/widgets" and "acme/secret-plans", and the Jira projects SUP and HR.
    pub fn demo() -> Self {
        SandboxConfig {
            github: GithubConfig {
                users: vec![
                    GithubUser {
                        login: "proxysync-bot".to_owned(),
                        id: 41_000_001,
                        token: "ghp_sandboxProxysyncBot000000000000000001".to_owned(),
                        token_expiration: Some("2026-12-10 12:00:00 UTC".to_owned()),
                    },
                    GithubUser {
                        login: "alice-dev".to_owned(),
                        id: 41_000_002,
                        token: "ghp_sandboxAliceDev00000000000000000000002".to_owned(),
                        token_expiration: None,
                    },
                ],
                repos: vec!["acme/widgets".to_owned(), "acme/secret-plans".to_owned()],
                webhook_secret: "sandbox-github-webhook-secret".to_owned(),
            },
            jira: JiraConfig {
                users: vec![
                    JiraUser {
                        account_id: "712020:00000000-0000-4000-8000-0000000000b0".to_owned(),
                        display_name: "ProxySync Bot".to_owned(),
                        email: "proxysync-bot@acme.example".to_owned(),
                        api_token: "sandbox-jira-token-proxysync-bot".to_owned(),
                    },
                    JiraUser {
                        account_id: "557058:00000000-0000-4000-8000-0000000a11ce".to_owned(),
                        display_name: "Alice Example".to_owned(),
                        email: "alice@acme.example".to_owned(),
                        api_token: "sandbox-jira-token-alice".to_owned(),
                    },
                ],
                projects: vec!["SUP".to_owned(), "HR".to_owned()],
                webhook_secret: "sandbox-jira-webhook-secret".to_owned(),
            },
            azure_devops: crate::azure_devops::AzureDevopsConfig::demo(),
            zendesk: crate::zendesk::ZendeskConfig::demo(),
            jira_dc: crate::jira_dc::JiraDcConfig::demo(),
            servicenow: crate::servicenow::ServicenowConfig::demo(),
            salesforce: crate::salesforce::SalesforceConfig::demo(),
            hp_alm: crate::hp_alm::HpAlmConfig::demo(),
        }
    }

    /// Checks that repositories read "owner/name", project keys are upper-case letters and
    /// digits, and that no two users share an id, a login or a credential.
    pub fn validate(&self) -> Result<(), String> {
        for repo in &self.github.repos {
            let valid = match repo.split_once('/') {
                Some((owner, name)) => !owner.is_empty() && !name.is_empty() && !name.contains('/'),
                None => false,
            };
            if !valid {
                return Err(format!(
                    "invalid GitHub repository {repo:?}: expected \"owner/name\""
                ));
            }
        }
        ensure_unique(
            "GitHub repository",
            self.github.repos.iter().map(|r| r.to_lowercase()),
        )?;
        ensure_unique(
            "GitHub user id",
            self.github.users.iter().map(|u| u.id.to_string()),
        )?;
        ensure_unique(
            "GitHub login",
            self.github.users.iter().map(|u| u.login.to_lowercase()),
        )?;
        ensure_unique(
            "GitHub token",
            self.github.users.iter().map(|u| u.token.clone()),
        )?;

        for key in &self.jira.projects {
            let valid = key.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !valid {
                return Err(format!(
                    "invalid Jira project key {key:?}: expected upper-case letters and digits, starting with a letter"
                ));
            }
        }
        ensure_unique("Jira project key", self.jira.projects.iter().cloned())?;
        ensure_unique(
            "Jira account id",
            self.jira.users.iter().map(|u| u.account_id.clone()),
        )?;
        ensure_unique(
            "Jira email and API token pair",
            self.jira
                .users
                .iter()
                .map(|u| format!("{}:{}", u.email, u.api_token)),
        )?;
        Ok(())
    }
}

/// Rejects the first value that occurs twice. `kind` names the value in the error message,
/// which shows the value itself unless it is a credential.
fn ensure_unique(kind: &str, values: impl Iterator<Item = String>) -> Result<(), String> {
    let is_credential = kind.contains("token");
    let mut seen = HashSet::new();
    for value in values {
        if seen.contains(&value) {
            return Err(if is_credential {
                format!("duplicate {kind} in the sandbox configuration")
            } else {
                format!("duplicate {kind} {value:?} in the sandbox configuration")
            });
        }
        seen.insert(value);
    }
    Ok(())
}
