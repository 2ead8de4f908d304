//! `proxysync doctor`: checks that each instance's proxy user can do its job.
//!
//! For every instance: the credentials work, the proxy identity stored in
//! DynamoDB still matches the tracker's "who am I", the tracker's own
//! permission checks ([`crate::tracker::Target::preflight`]) pass, the tokens
//! are not about to expire, and the webhook settings that the instance
//! options name look right. The GitHub and Jira Cloud permission checks live
//! here too, so other tracker modules can follow them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::http::Api;
use crate::model::{Instance, TrackerKind};
use crate::pipeline::Pipeline;
use crate::tracker::PreflightCheck;
use crate::trackers;

/// The instance option that [`run`] fills with the projects the instance's connections name,
/// before it calls [`crate::tracker::Target::preflight`].
pub const CONNECTED_PROJECTS: &str = "connected_projects";

/// A token that expires sooner than this fails its check, so there is time to replace it.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// How long after the latest sign of human use of a proxy account `doctor` keeps warning.
pub const PROXY_USE_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long the checks of one instance may take.
const INSTANCE_BUDGET: Duration = Duration::from_secs(30);

/// Every check of one instance.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceReport {
    pub instance: String,
    pub tracker: TrackerKind,
    pub checks: Vec<PreflightCheck>,
    /// Findings that need an operator's attention but do not stop the sync; they do not
    /// change the exit code.
    pub warnings: Vec<PreflightCheck>,
}

impl InstanceReport {
    /// Returns true when every check passed; warnings do not count.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|check| check.ok)
    }
}

/// Builds a check result.
pub fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> PreflightCheck {
    PreflightCheck {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

/// Returns the projects that [`run`] put into the instance options for a preflight.
pub fn connected_projects(instance: &Instance) -> Vec<String> {
    instance
        .options
        .get(CONNECTED_PROJECTS)
        .and_then(Value::as_array)
        .map(|projects| {
            projects
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks every instance of the pipeline's configuration, one after another.
///
/// # Errors
/// The configuration cannot be read from DynamoDB.
pub async fn run(pipeline: &Pipeline) -> Result<Vec<InstanceReport>, crate::error::StoreError> {
    let config = pipeline.config(true).await?;
    let mut reports = Vec::new();
    for instance in &config.instances {
        let mut instance = instance.clone();
        let projects: Vec<Value> = config
            .connections
            .iter()
            .flat_map(|c| [&c.a, &c.b])
            .filter(|endpoint| endpoint.instance == instance.id)
            .map(|endpoint| endpoint.project.clone())
            .collect::<std::collections::BTreeSet<String>>()
            .into_iter()
            .map(Value::String)
            .collect();
        instance
            .options
            .insert(CONNECTED_PROJECTS.to_owned(), Value::Array(projects));
        reports.push(check_instance(pipeline, &instance).await);
    }
    Ok(reports)
}

async fn check_instance(pipeline: &Pipeline, instance: &Instance) -> InstanceReport {
    let mut report = InstanceReport {
        instance: instance.id.clone(),
        tracker: instance.tracker,
        checks: Vec::new(),
        warnings: Vec::new(),
    };
    report
        .warnings
        .extend(proxy_use_warning(pipeline, instance).await);
    let Some(module) = trackers::module(instance.tracker) else {
        report.checks.push(check(
            "tracker supported",
            false,
            format!("this build has no {} module", instance.tracker),
        ));
        return report;
    };

    let deadline = Instant::now() + INSTANCE_BUDGET;
    let api = match pipeline.api(instance, deadline, true).await {
        Ok(api) => api,
        Err(error) => {
            report
                .checks
                .push(check("credentials", false, error.to_string()));
            return report;
        }
    };
    match module.target().whoami(&api).await {
        Ok(identity) => {
            report.checks.push(check(
                "credentials",
                true,
                format!("signed in as {} (id {})", identity.name, identity.id),
            ));
            report.checks.push(identity_check(instance, &identity));
        }
        Err(error) => {
            let detail = if error.is_unauthorized() {
                format!(
                    "{error}: the tracker refused the proxy credentials; replace them in secret {}",
                    instance.secret
                )
            } else {
                error.to_string()
            };
            report.checks.push(check("credentials", false, detail));
            return report;
        }
    }

    report
        .checks
        .extend(module.target().preflight(&api, instance).await);
    report
        .checks
        .extend(secret_checks(pipeline, instance).await);
    report
}

/// Warns when the pipeline saw changes by the proxy user that proxysync did not write in the
/// last [`PROXY_USE_WINDOW`]: people then sign in as the proxy user, their changes are never
/// synced, and any author check is unreliable.
async fn proxy_use_warning(pipeline: &Pipeline, instance: &Instance) -> Option<PreflightCheck> {
    let name = "proxy user used by people";
    let used = match pipeline.store().proxy_use(&instance.id).await {
        Ok(used) => used?,
        Err(error) => {
            return Some(check(
                name,
                false,
                format!("could not read the record of proxy changes: {error}"),
            ));
        }
    };
    let window_ms = i64::try_from(PROXY_USE_WINDOW.as_millis()).unwrap_or(i64::MAX);
    if used.last_at_ms < crate::time_util::now_ms() - window_ms {
        return None;
    }
    let last = time::OffsetDateTime::from_unix_timestamp(used.last_at_ms / 1000)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    Some(check(
        name,
        false,
        format!(
            "{} change(s) by the proxy user that proxysync did not write (latest: event {} on {} \
             at {last}); these are never synced, so give the people their own accounts, then run \
             `proxysync doctor --clear-proxy-use {}`",
            used.changes, used.last_kind, used.last_issue, instance.id
        ),
    ))
}

fn identity_check(instance: &Instance, identity: &crate::model::ProxyIdentity) -> PreflightCheck {
    match &instance.proxy {
        None => check(
            "proxy identity",
            false,
            "no proxy identity is stored, so the proxy user's own changes cannot be dropped: \
             run `proxysync instance add` again",
        ),
        Some(stored) if stored.id == identity.id => check(
            "proxy identity",
            true,
            format!("matches the stored id {}", stored.id),
        ),
        Some(stored) => check(
            "proxy identity",
            false,
            format!(
                "the credentials belong to {} (id {}) but the stored proxy user is {} (id {}), \
                 so that user's changes would sync back as a loop: run `proxysync instance add` \
                 again or restore the proxy user's credentials",
                identity.name, identity.id, stored.name, stored.id
            ),
        ),
    }
}

/// Checks the webhook secret and the OAuth expiry times stored in the instance secret.
async fn secret_checks(pipeline: &Pipeline, instance: &Instance) -> Vec<PreflightCheck> {
    let credentials = match pipeline.secrets().get(instance, false).await {
        Ok(credentials) => credentials,
        Err(error) => return vec![check("secret", false, error.to_string())],
    };
    let mut checks = Vec::new();
    // HP ALM/QC sends no webhooks: the poller reads it, so it needs no webhook secret.
    let webhook_secret = match credentials.webhook_secret {
        _ if instance.tracker == TrackerKind::HpAlm => None,
        Some(_) => Some(check(
            "webhook secret",
            true,
            format!("secret {} has a webhook_secret", instance.secret),
        )),
        None => Some(check(
            "webhook secret",
            false,
            format!(
                "secret {} has no webhook_secret field, so every webhook is rejected: \
                 add the secret the tracker signs webhooks with",
                instance.secret
            ),
        )),
    };
    checks.extend(webhook_secret);
    let now = now_secs();
    for (name, expires_at) in [
        ("access token expiry", credentials.access_token_expires_at),
        ("refresh token expiry", credentials.refresh_token_expires_at),
    ] {
        let Some(expires_at) = expires_at else {
            continue;
        };
        if name == "access token expiry" && credentials.refresh_token.is_some() {
            // A refresher renews access tokens; only their refresh token can run out for good.
            continue;
        }
        crate::metrics::token_seconds_left(instance.tracker, expires_at - now);
        checks.push(expiry_check(name, expires_at - now, &instance.secret));
    }
    checks
}

/// Checks a token that expires in `seconds_left`.
pub fn expiry_check(name: &str, seconds_left: i64, secret: &str) -> PreflightCheck {
    let days = seconds_left / 86_400;
    if seconds_left <= 0 {
        check(
            name,
            false,
            format!("expired: replace the token in secret {secret}"),
        )
    } else if seconds_left < EXPIRY_WARNING.as_secs() as i64 {
        check(
            name,
            false,
            format!("expires in {days} days: replace the token in secret {secret} before then"),
        )
    } else {
        check(name, true, format!("expires in {days} days"))
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The header with the classic token's scopes.
const GITHUB_SCOPES: &str = "x-oauth-scopes";
/// The header with the expiry time of a personal access token.
const GITHUB_EXPIRY: &str = "github-authentication-token-expiration";

/// GitHub's checks: the `repo` scope, the token's expiry, and the repository hooks that the
/// instance options name (`hook_id`, or `hooks` as an object of repository to hook id).
pub async fn github_preflight(api: &Api, instance: &Instance) -> Vec<PreflightCheck> {
    let (_, headers) = match api.get_with_headers("/user").await {
        Ok(answer) => answer,
        Err(error) => return vec![check("scope repo", false, error.to_string())],
    };
    let mut checks = vec![github_scope_check(&headers)];
    if let Some(check) = github_expiry_check(&headers, &instance.secret) {
        checks.push(check);
    }
    for (repo, hook_id) in github_hooks(instance) {
        checks.push(github_hook_check(api, &repo, &hook_id).await);
    }
    checks
}

fn github_scope_check(headers: &HeaderMap) -> PreflightCheck {
    let Some(scopes) = headers.get(GITHUB_SCOPES).and_then(|v| v.to_str().ok()) else {
        return check(
            "scope repo",
            true,
            "no x-oauth-scopes header, so this is a fine-grained token or an app token: \
             make sure it has read and write access to issues on each connected repository",
        );
    };
    let granted: Vec<&str> = scopes.split(',').map(str::trim).collect();
    if granted.contains(&"repo") {
        check("scope repo", true, format!("token scopes: {scopes}"))
    } else {
        check(
            "scope repo",
            false,
            format!(
                "the token has scopes [{scopes}] but needs repo to read and write issues: \
                 create a classic token with the repo scope"
            ),
        )
    }
}

fn github_expiry_check(headers: &HeaderMap, secret: &str) -> Option<PreflightCheck> {
    let value = headers.get(GITHUB_EXPIRY)?.to_str().ok()?;
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let trimmed = value.trim().trim_end_matches("UTC").trim();
    let Ok(expires) = time::PrimitiveDateTime::parse(trimmed, &format) else {
        return Some(check(
            "token expiry",
            false,
            format!("unreadable {GITHUB_EXPIRY} header {value:?}"),
        ));
    };
    let left = expires.assume_utc().unix_timestamp() - now_secs();
    crate::metrics::token_seconds_left(TrackerKind::Github, left);
    Some(expiry_check("token expiry", left, secret))
}

/// Returns the (repository, hook id) pairs of the instance options.
pub fn github_hooks(instance: &Instance) -> Vec<(String, String)> {
    let id_text = |value: &Value| match value {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    };
    if let Some(hooks) = instance.options.get("hooks").and_then(Value::as_object) {
        return hooks
            .iter()
            .filter_map(|(repo, id)| Some((repo.clone(), id_text(id)?)))
            .collect();
    }
    let Some(hook_id) = instance.options.get("hook_id").and_then(id_text) else {
        return Vec::new();
    };
    let repo = instance
        .options
        .get("hook_repo")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| connected_projects(instance).into_iter().next());
    repo.map(|repo| vec![(repo, hook_id)]).unwrap_or_default()
}

async fn github_hook_check(api: &Api, repo: &str, hook_id: &str) -> PreflightCheck {
    let name = format!("webhook {repo} hook {hook_id}");
    let path = format!("/repos/{repo}/hooks/{hook_id}");
    let hook = match api.get(&path).await {
        Ok(hook) => hook,
        Err(error) if error.status() == Some(404) => {
            return check(
                name,
                false,
                format!(
                    "GitHub has no hook {hook_id} on {repo}, or the proxy user may not read it: \
                     fix hook_id in the instance options or give the proxy user admin rights"
                ),
            );
        }
        Err(error) => return check(name, false, error.to_string()),
    };
    let mut problems = Vec::new();
    if hook.get("active").and_then(Value::as_bool) != Some(true) {
        problems.push("the hook is not active".to_owned());
    }
    let events: Vec<&str> = hook
        .get("events")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for needed in ["issues", "issue_comment"] {
        if !events.contains(&needed) && !events.contains(&"*") {
            problems.push(format!("the hook does not send {needed} events"));
        }
    }
    let config = hook.get("config").cloned().unwrap_or(Value::Null);
    if config.get("secret").is_none() {
        problems
            .push("the hook has no secret, so its deliveries fail the signature check".to_owned());
    }
    let url = config
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !url.contains("/webhooks/github/") {
        problems.push(format!(
            "the hook posts to {url:?}, not to a proxysync /webhooks/github/{{instance}} URL"
        ));
    }
    if let Some(code) = hook.pointer("/last_response/code").and_then(Value::as_u64)
        && !(200..300).contains(&code)
    {
        problems.push(format!("its last delivery got HTTP {code}"));
    }
    if problems.is_empty() {
        check(name, true, format!("active, posts to {url}"))
    } else {
        check(name, false, problems.join("; "))
    }
}

/// The Jira project permissions the proxy user needs, with the names Jira shows.
pub const JIRA_PERMISSIONS: [(&str, &str); 8] = [
    ("BROWSE_PROJECTS", "Browse Projects"),
    ("CREATE_ISSUES", "Create Issues"),
    ("EDIT_ISSUES", "Edit Issues"),
    ("TRANSITION_ISSUES", "Transition Issues"),
    ("ADD_COMMENTS", "Add Comments"),
    ("EDIT_OWN_COMMENTS", "Edit Own Comments"),
    ("DELETE_OWN_COMMENTS", "Delete Own Comments"),
    ("LINK_ISSUES", "Link Issues"),
];

/// Jira's checks: each permission of [`JIRA_PERMISSIONS`] in each connected project, read from
/// `GET {api}/mypermissions`; `api` is `/rest/api/3` on Cloud.
pub async fn jira_preflight(api: &Api, instance: &Instance, rest: &str) -> Vec<PreflightCheck> {
    let keys: Vec<&str> = JIRA_PERMISSIONS.iter().map(|(key, _)| *key).collect();
    let mut projects = connected_projects(instance);
    if projects.is_empty() {
        projects.push(String::new());
    }
    let mut checks = Vec::new();
    for project in projects {
        let mut path = format!("{rest}/mypermissions?permissions={}", keys.join(","));
        if !project.is_empty() {
            path.push_str(&format!("&projectKey={}", urlencoding::encode(&project)));
        }
        let answer = match api.get(&path).await {
            Ok(answer) => answer,
            Err(error) => {
                checks.push(check(
                    format!("permissions in {project}"),
                    false,
                    error.to_string(),
                ));
                continue;
            }
        };
        let scope = if project.is_empty() {
            "any project".to_owned()
        } else {
            format!("project {project}")
        };
        for (key, label) in JIRA_PERMISSIONS {
            let granted = answer
                .pointer(&format!("/permissions/{key}/havePermission"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let detail = if granted {
                format!("granted in {scope}")
            } else {
                format!(
                    "missing in {scope}: grant \"{label}\" to the proxy user in the project's \
                     permission scheme"
                )
            };
            checks.push(check(
                format!("permission {key} in {scope}"),
                granted,
                detail,
            ));
        }
    }
    checks
}

/// Renders reports as a text table: instance, check, result and detail.
pub fn render_table(reports: &[InstanceReport]) -> String {
    let mut rows = vec![[
        "INSTANCE".to_owned(),
        "CHECK".to_owned(),
        "RESULT".to_owned(),
        "DETAIL".to_owned(),
    ]];
    for report in reports {
        for check in &report.checks {
            rows.push([
                report.instance.clone(),
                check.name.clone(),
                if check.ok { "ok" } else { "MISSING" }.to_owned(),
                check.detail.clone(),
            ]);
        }
        for warning in &report.warnings {
            rows.push([
                report.instance.clone(),
                warning.name.clone(),
                "WARNING".to_owned(),
                warning.detail.clone(),
            ]);
        }
    }
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    for row in &rows {
        for (column, width) in widths.iter().enumerate() {
            out.push_str(&format!("{:<width$}  ", row[column]));
        }
        out.push_str(&row[3]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn scope_without_repo_fails() {
        let result = github_scope_check(&headers(&[(GITHUB_SCOPES, "gist, read:org")]));
        assert!(!result.ok);
        assert!(result.detail.contains("needs repo"), "{}", result.detail);
    }

    #[test]
    fn scope_with_repo_passes() {
        let result = github_scope_check(&headers(&[(GITHUB_SCOPES, "repo, workflow")]));
        assert!(result.ok, "{}", result.detail);
    }

    #[test]
    fn scope_public_repo_is_not_repo() {
        let result = github_scope_check(&headers(&[(GITHUB_SCOPES, "public_repo")]));
        assert!(!result.ok);
    }

    #[test]
    fn expiry_soon_fails() {
        assert!(!expiry_check("token expiry", 3 * 86_400, "s").ok);
        assert!(!expiry_check("token expiry", -5, "s").ok);
        assert!(expiry_check("token expiry", 90 * 86_400, "s").ok);
    }

    #[test]
    fn hooks_from_options() {
        let mut instance = Instance {
            id: "gh".to_owned(),
            tracker: TrackerKind::Github,
            base_url: "https://api.github.com".to_owned(),
            secret: "s".to_owned(),
            proxy: None,
            options: Default::default(),
        };
        instance
            .options
            .insert("hook_id".to_owned(), serde_json::json!(42));
        instance.options.insert(
            CONNECTED_PROJECTS.to_owned(),
            serde_json::json!(["acme/widgets"]),
        );
        assert_eq!(
            github_hooks(&instance),
            vec![("acme/widgets".to_owned(), "42".to_owned())]
        );
        instance.options.insert(
            "hooks".to_owned(),
            serde_json::json!({"acme/a": "1", "acme/b": 2}),
        );
        assert_eq!(github_hooks(&instance).len(), 2);
    }

    #[test]
    fn table_marks_missing() {
        let report = InstanceReport {
            instance: "gh".to_owned(),
            tracker: TrackerKind::Github,
            checks: vec![check("scope repo", false, "needs repo")],
            warnings: vec![check("proxy user used by people", false, "2 changes")],
        };
        let table = render_table(&[report]);
        assert!(table.contains("MISSING"), "{table}");
        assert!(table.contains("WARNING"), "{table}");
        assert!(table.lines().next().unwrap().starts_with("INSTANCE"));
    }
}
