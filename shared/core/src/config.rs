//! The configuration file and the environment settings of the functions.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::model::{Connection, Instance, TrackerKind};

/// Instances and connections, as in the YAML file that `connection apply` and `--config` read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub instances: Vec<Instance>,
    #[serde(default)]
    pub connections: Vec<Connection>,
}

impl Config {
    /// Parses and validates a YAML configuration.
    ///
    /// # Errors
    /// A message naming the invalid key or value and how to fix it.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let config = Config::parse_yaml(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses a YAML configuration without validating it, as `connection apply` reads the
    /// `connections:` of a file whose instances are registered elsewhere.
    ///
    /// # Errors
    /// A message with the line and column of a syntax or shape error.
    pub fn parse_yaml(text: &str) -> Result<Config, ConfigError> {
        serde_yaml_ng::from_str(text).map_err(|error| ConfigError(yaml_error_message(text, &error)))
    }

    /// Checks ids, references and project names.
    ///
    /// # Errors
    /// A message naming the invalid value and how to fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut ids = HashSet::new();
        for instance in &self.instances {
            if !valid_id(&instance.id) {
                return Err(ConfigError(format!(
                    "invalid instance id {:?}: use letters, digits, '-' and '_' only",
                    instance.id
                )));
            }
            if crate::trackers::module(instance.tracker).is_none() {
                return Err(ConfigError(format!(
                    "instance {:?} uses tracker {}, which this build does not support yet",
                    instance.id, instance.tracker
                )));
            }
            if !ids.insert(instance.id.as_str()) {
                return Err(ConfigError(format!(
                    "instance id {:?} is defined twice",
                    instance.id
                )));
            }
            check_base_url(&instance.base_url).map_err(|message| {
                ConfigError(format!(
                    "instance {:?} has base_url {:?}: {message}",
                    instance.id, instance.base_url
                ))
            })?;
            crate::options::check_instance(instance).map_err(ConfigError)?;
        }

        let mut connection_ids = HashSet::new();
        let mut pairs: HashMap<[(&str, &str); 2], &str> = HashMap::new();
        for connection in &self.connections {
            if !valid_id(&connection.id) {
                return Err(ConfigError(format!(
                    "invalid connection id {:?}: use letters, digits, '-' and '_' only",
                    connection.id
                )));
            }
            if !connection_ids.insert(connection.id.as_str()) {
                return Err(ConfigError(format!(
                    "connection id {:?} is defined twice",
                    connection.id
                )));
            }
            for endpoint in [&connection.a, &connection.b] {
                let instance = self.instance(&endpoint.instance).ok_or_else(|| {
                    ConfigError(format!(
                        "connection {:?} names instance {:?}, which is not defined: add it under instances",
                        connection.id, endpoint.instance
                    ))
                })?;
                check_project(instance.tracker, &endpoint.project).map_err(|message| {
                    ConfigError(format!("connection {:?}: {message}", connection.id))
                })?;
            }
            if connection.a.instance == connection.b.instance
                && connection.a.project == connection.b.project
            {
                return Err(ConfigError(format!(
                    "connection {:?} connects project {:?} with itself",
                    connection.id, connection.a.project
                )));
            }
            // Each connection of a pair would create its own copy of every new issue.
            let mut pair = [
                (
                    connection.a.instance.as_str(),
                    connection.a.project.as_str(),
                ),
                (
                    connection.b.instance.as_str(),
                    connection.b.project.as_str(),
                ),
            ];
            pair.sort_unstable();
            if let Some(first) = pairs.insert(pair, connection.id.as_str()) {
                return Err(ConfigError(format!(
                    "connections {first:?} and {:?} both connect {}:{} with {}:{}, so every new \
                     issue would be created twice: keep one of them, with `direction: both` for \
                     a two-way sync",
                    connection.id, pair[0].0, pair[0].1, pair[1].0, pair[1].1
                )));
            }
        }
        Ok(())
    }

    /// Finds an instance by id.
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.iter().find(|instance| instance.id == id)
    }
}

/// Accepts the ids of instances and connections: letters, digits, '-' and '_', as they are
/// part of DynamoDB keys and webhook URLs.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Formats a YAML error as "line L, column C: message", with a hint when a tab is the cause.
fn yaml_error_message(text: &str, error: &serde_yaml_ng::Error) -> String {
    let mut message = error.to_string();
    let Some(location) = error.location() else {
        return message;
    };
    let (line, column) = (location.line(), location.column());
    // The library appends the same position to its message.
    let suffix = format!(" at line {line} column {column}");
    if let Some(start) = message.find(&suffix) {
        message.replace_range(start..start + suffix.len(), "");
    }
    let mut formatted = format!("line {line}, column {column}: {message}");
    let at_tab = text
        .get(location.index()..)
        .is_some_and(|rest| rest.starts_with('\t'));
    let indented_with_tab = text
        .lines()
        .nth(line.saturating_sub(1))
        .is_some_and(|text_line| text_line.trim_start_matches(' ').starts_with('\t'));
    if at_tab || indented_with_tab {
        formatted.push_str(" (YAML does not allow tabs for indentation: indent with spaces)");
    }
    formatted
}

/// Accepts `https://` URLs, and `http://` ones whose host is a loopback address, such as a
/// local sandbox.
fn check_base_url(base_url: &str) -> Result<(), String> {
    const FIX: &str = "use https://HOST[/PATH], or http:// only for a loopback host \
                       (127.0.0.1, localhost or [::1])";
    let parsed =
        url::Url::parse(base_url).map_err(|e| format!("it is not a valid URL ({e}): {FIX}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!("http:// is not allowed for a remote host: {FIX}")),
        scheme => Err(format!("the scheme {scheme}:// is not supported: {FIX}")),
    }
}

fn check_project(tracker: TrackerKind, project: &str) -> Result<(), String> {
    let valid = match tracker {
        TrackerKind::Github => project.split('/').filter(|part| !part.is_empty()).count() == 2,
        TrackerKind::JiraCloud | TrackerKind::JiraDc => {
            !project.is_empty()
                && project
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => !project.is_empty(),
    };
    if valid {
        return Ok(());
    }
    let expected = match tracker {
        TrackerKind::Github => "owner/repo",
        TrackerKind::JiraCloud | TrackerKind::JiraDc => "a project key such as SUP",
        _ => "a project name",
    };
    Err(format!(
        "invalid {tracker} project {project:?}: expected {expected}"
    ))
}

/// Settings of the webhook functions, read once at start from the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The DynamoDB table (`PROXYSYNC_TABLE`).
    pub table: String,
    /// How long a webhook may spend on target calls before it parks the event
    /// (`PROXYSYNC_SYNC_BUDGET_MS`, default 8000: GitHub gives up on a webhook after 10 s).
    pub sync_budget: Duration,
    /// The largest accepted webhook body (`PROXYSYNC_MAX_BODY_BYTES`, default 2 MiB).
    pub max_body_bytes: usize,
    /// How long instances and connections stay cached (`PROXYSYNC_CONFIG_TTL_SECS`, default 60).
    pub config_ttl: Duration,
    /// How long credentials stay cached (`PROXYSYNC_SECRET_TTL_SECS`, default 900).
    pub secret_ttl: Duration,
    /// How long a delivery claim protects an invocation that may still be running; a claim
    /// still "in progress" after it (the invocation died) lets the redelivery through
    /// (`PROXYSYNC_CLAIM_LEASE_MS`, default 300000: longer than any Lambda timeout the
    /// template sets).
    pub claim_lease: Duration,
    /// The most writes to one issue through one connection in one minute; events past it are
    /// parked, which stops a write storm (`PROXYSYNC_MAX_WRITES_PER_ISSUE_PER_MINUTE`,
    /// default 20, 0 turns the cap off).
    pub max_writes_per_issue_per_minute: u32,
    /// How long a value that proxysync wrote is remembered, so that the tracker's event for it
    /// is dropped as an echo whoever it names as the author (`PROXYSYNC_ECHO_TTL_SECS`,
    /// default 900: trackers send webhooks within seconds, queued ones within minutes).
    pub echo_ttl: Duration,
    /// The wait before an event by the proxy user that matches no write is checked again and
    /// counted as a sign that people use the proxy account. The webhook can arrive before the
    /// write it echoes is stored (`PROXYSYNC_PROXY_CHECK_DELAY_MS`, default 2000, 0 turns the
    /// check off).
    pub proxy_check_delay: Duration,
}

impl Settings {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A message naming the missing or invalid variable.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not change the process environment.
    ///
    /// # Errors
    /// A message naming the missing or invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let table = lookup("PROXYSYNC_TABLE")
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ConfigError("missing environment variable PROXYSYNC_TABLE: set it to the DynamoDB table name".to_owned()))?;
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(value) => value.trim().parse().map_err(|_| {
                    ConfigError(format!("invalid {name}={value:?}: expected a whole number"))
                }),
            }
        };
        Ok(Settings {
            table,
            sync_budget: Duration::from_millis(number("PROXYSYNC_SYNC_BUDGET_MS", 8000)?),
            max_body_bytes: usize::try_from(number("PROXYSYNC_MAX_BODY_BYTES", 2 * 1024 * 1024)?)
                .unwrap_or(usize::MAX),
            config_ttl: Duration::from_secs(number("PROXYSYNC_CONFIG_TTL_SECS", 60)?),
            secret_ttl: Duration::from_secs(number("PROXYSYNC_SECRET_TTL_SECS", 900)?),
            claim_lease: Duration::from_millis(number("PROXYSYNC_CLAIM_LEASE_MS", 300_000)?),
            max_writes_per_issue_per_minute: u32::try_from(number(
                "PROXYSYNC_MAX_WRITES_PER_ISSUE_PER_MINUTE",
                20,
            )?)
            .unwrap_or(u32::MAX),
            echo_ttl: Duration::from_secs(number("PROXYSYNC_ECHO_TTL_SECS", 900)?),
            proxy_check_delay: Duration::from_millis(number(
                "PROXYSYNC_PROXY_CHECK_DELAY_MS",
                2000,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
instances:
  - id: acme-github
    tracker: github
    base_url: https://api.github.com
    secret: proxysync/acme-github
    proxy: { id: "9001", name: acme-sync }
  - id: acme-jira
    tracker: jira-cloud
    base_url: https://acme.atlassian.net
    secret: proxysync/acme-jira
connections:
  - id: widgets
    a: { instance: acme-github, project: acme/widgets }
    b: { instance: acme-jira, project: SUP, closed_status: Done }
    direction: both
"#;

    #[test]
    fn example_parses() {
        let config = Config::from_yaml(EXAMPLE).unwrap();
        assert_eq!(config.instances.len(), 2);
        assert_eq!(
            config.connections[0].b.closed_status.as_deref(),
            Some("Done")
        );
    }

    #[test]
    fn same_pair_twice_rejected() {
        // The second connection names the pair the other way round.
        let text = format!(
            "{EXAMPLE}  - id: widgets-again\n    a: {{ instance: acme-jira, project: SUP }}\n    \
             b: {{ instance: acme-github, project: acme/widgets }}\n"
        );
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(
            error.contains("\"widgets\" and \"widgets-again\""),
            "{error}"
        );
        assert!(error.contains("direction: both"), "{error}");
    }

    #[test]
    fn other_project_pair_accepted() {
        let text = format!(
            "{EXAMPLE}  - id: widgets-help\n    a: {{ instance: acme-github, project: acme/widgets }}\n    \
             b: {{ instance: acme-jira, project: HELP }}\n"
        );
        assert!(Config::from_yaml(&text).is_ok());
    }

    #[test]
    fn connection_id_checked() {
        let text = EXAMPLE.replace("id: widgets", "id: \"bad id!\"");
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(
            error.contains("invalid connection id \"bad id!\""),
            "{error}"
        );
        assert!(error.contains("letters, digits"), "{error}");
    }

    #[test]
    fn unknown_instance_named() {
        let text = EXAMPLE.replace("instance: acme-jira", "instance: acme-jria");
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(error.contains("\"acme-jria\""), "{error}");
    }

    #[test]
    fn bad_github_project_named() {
        let text = EXAMPLE.replace("project: acme/widgets", "project: widgets");
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(error.contains("owner/repo"), "{error}");
    }

    #[test]
    fn unknown_tracker_rejected() {
        let text = EXAMPLE.replace("tracker: jira-cloud", "tracker: jira-server");
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(error.contains("jira-server"), "{error}");
    }

    #[test]
    fn unknown_option_rejected() {
        let text = EXAMPLE.replace(
            "secret: proxysync/acme-jira",
            "secret: proxysync/acme-jira\n    options: { hook_idd: 5 }",
        );
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(error.contains("unknown option \"hook_idd\""), "{error}");
        assert!(error.contains("\"acme-jira\""), "{error}");
    }

    #[test]
    fn wrong_option_type_rejected() {
        let text = EXAMPLE.replace(
            "name: acme-sync }",
            "name: acme-sync }\n    options: { hook_id: notanumber }",
        );
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(error.contains("hook_id=\"notanumber\""), "{error}");
    }

    #[test]
    fn yaml_tab_names_line_and_column() {
        let text = EXAMPLE.replace("  - id: acme-jira", "\t- id: acme-jira");
        let error = Config::from_yaml(&text).unwrap_err().to_string();
        assert!(error.starts_with("line 8, column 1: "), "{error}");
        assert!(error.contains("indent with spaces"), "{error}");
        assert_eq!(error.matches("line 8").count(), 1, "{error}");
    }

    #[test]
    fn http_base_url_only_on_loopback() {
        for url in [
            "http://127.0.0.1:8910/github",
            "http://localhost:8910",
            "http://[::1]:8910",
        ] {
            let text = EXAMPLE.replace("https://api.github.com", url);
            assert!(Config::from_yaml(&text).is_ok(), "{url}");
        }
        for url in [
            "http://api.github.com",
            "ftp://api.github.com",
            "api.github.com",
        ] {
            let text = EXAMPLE.replace("https://api.github.com", url);
            let error = Config::from_yaml(&text).unwrap_err().to_string();
            assert!(error.contains(&format!("{url:?}")), "{error}");
            assert!(error.contains("https://"), "{error}");
            assert!(error.contains("loopback"), "{error}");
        }
    }

    /// The demo's configuration files, with the instances and options that
    /// `infra/local/demo.py` registers for the connections of the other files.
    #[test]
    fn demo_configs_validate() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/local");
        let main = std::fs::read_to_string(folder.join("proxysync.yaml")).unwrap();
        let mut config = Config::from_yaml(&main).unwrap();
        let registered = [
            ("acme-servicenow", "servicenow", "{}"),
            (
                "acme-azure-devops",
                "azure-devops",
                r#"{"projects": ["Web Shop"]}"#,
            ),
            ("acme-zendesk", "zendesk", "{}"),
            ("acme-jira-dc", "jira-dc", r#"{"projects": ["OPS"]}"#),
            (
                "acme-salesforce",
                "salesforce",
                r#"{"organization_id": "00D000000000042AAA",
                    "sobject_types": ["Case", "CaseComment"], "session_timeout_secs": 7200}"#,
            ),
            (
                "acme-alm",
                "hp-alm",
                r#"{"projects": ["DEFAULT/Example_Project"]}"#,
            ),
        ];
        for (id, tracker, options) in registered {
            config.instances.push(Instance {
                id: id.to_owned(),
                tracker: TrackerKind::parse(tracker).unwrap(),
                base_url: format!("http://127.0.0.1:8910/{tracker}"),
                secret: format!("proxysync/{id}"),
                proxy: None,
                options: serde_json::from_str(options).unwrap(),
            });
        }
        for name in [
            "servicenow",
            "azure-devops",
            "zendesk",
            "jira-dc",
            "salesforce",
            "hp-alm",
        ] {
            let text = std::fs::read_to_string(folder.join(format!("{name}.yaml"))).unwrap();
            let file = Config::parse_yaml(&text).unwrap();
            assert!(!file.connections.is_empty(), "{name}.yaml");
            config.connections.extend(file.connections);
        }
        config.validate().unwrap();
    }

    #[test]
    fn settings_need_table() {
        let error = Settings::from_lookup(|_| None).unwrap_err().to_string();
        assert!(error.contains("PROXYSYNC_TABLE"), "{error}");
    }

    #[test]
    fn settings_reject_bad_number() {
        let lookup = |name: &str| match name {
            "PROXYSYNC_TABLE" => Some("t".to_owned()),
            "PROXYSYNC_SYNC_BUDGET_MS" => Some("8s".to_owned()),
            _ => None,
        };
        let error = Settings::from_lookup(lookup).unwrap_err().to_string();
        assert!(error.contains("PROXYSYNC_SYNC_BUDGET_MS"), "{error}");
    }
}
