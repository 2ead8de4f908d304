//! Jira Data Center: admin webhooks in, REST API v2 out.
//!
//! Webhooks have Jira Cloud's envelope with the server's user shapes (`key`
//! and `name`, no `accountId`); the user key is the stable id. REST v2 reads
//! and writes descriptions and comments as wiki markup. Data Center's
//! `comment_*` events carry no issue, so comments sync from the
//! `jira:issue_updated` events of type `issue_commented`,
//! `issue_comment_edited` and `issue_comment_deleted`.
//!
//! A webhook with a secret is verified through `X-Hub-Signature`. Versions
//! without webhook secrets put the instance's `webhook_secret` in the webhook
//! URL as `?token=...` instead, and that token is compared in constant time.

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::jira::{self, Flavor};
use super::signature::{secret_matches, verify_hex_hmac};
use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{Endpoint, Instance, IssueContent, IssueRef, ProxyIdentity, TrackerKind};
use crate::options::{InstanceOption, OptionKind};
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, PreflightCheck, Source, Target,
    TrackerModule,
};

const SIGNATURE_HEADER: &str = "x-hub-signature";
/// The query parameter of the webhook URL that carries the shared token.
pub const TOKEN_PARAM: &str = "token";
const TOKEN_LABEL: &str = "token query parameter";
const MISSING_LABEL: &str = "X-Hub-Signature (or a token query parameter in the webhook URL)";

/// Project permissions the proxy user needs in every connected project, by the keys of
/// `/rest/api/2/mypermissions`.
pub const REQUIRED_PERMISSIONS: [&str; 14] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "LINK_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
    "EDIT_OWN_COMMENTS",
    "DELETE_OWN_COMMENTS",
    "CREATE_ATTACHMENTS",
    "DELETE_OWN_ATTACHMENTS",
    "WORK_ON_ISSUES",
    "EDIT_OWN_WORKLOGS",
    "DELETE_OWN_WORKLOGS",
    "SET_ISSUE_SECURITY",
];

/// The project permission that Jira Service Management grants its agents.
const AGENT_PERMISSION: &str = "SERVICEDESK_AGENT";

/// The project permission that the catch-up's JQL search needs in each connected project,
/// because Jira rejects a `project in (...)` condition naming a project the user may not browse.
pub const SEARCH_PERMISSION: &str = "BROWSE_PROJECTS";

const DATA_CENTER: Flavor = Flavor {
    kind: TrackerKind::JiraDc,
    api: "/rest/api/2",
    user_id_field: "key",
    text: wiki_text,
    comments_in_issue_updates: true,
};

fn wiki_text(markdown: &str) -> Value {
    Value::String(proxysync_formats::markdown_to_wiki(markdown))
}

/// The instance options Jira Data Center reads: `projects`, the project keys of the preflight.
pub const INSTANCE_OPTIONS: &[InstanceOption] =
    &[InstanceOption::new("projects", OptionKind::TextList)];

/// The Jira Data Center tracker module.
pub struct JiraDc;

impl TrackerModule for JiraDc {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"token": "<personal access token>", "webhook_secret": "..."}, or "username" and "password" in place of "token""#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        if let Some(token) = &credentials.token {
            return Ok(Auth::Bearer(token.clone()));
        }
        match (&credentials.username, &credentials.password) {
            (Some(user), Some(password)) => Ok(Auth::Basic {
                user: user.clone(),
                password: password.clone(),
            }),
            _ => Err(
                "the secret has neither a \"token\" field (a personal access token) nor \
                 \"username\" and \"password\" fields: store the proxy user's credentials there"
                    .to_owned(),
            ),
        }
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }
}

impl Source for JiraDc {
    fn verify(&self, request: &InboundRequest, secret: &SecretString) -> Result<(), Rejection> {
        if request.header(SIGNATURE_HEADER).is_some() {
            return verify_hex_hmac(request, secret, SIGNATURE_HEADER);
        }
        match request.query_param(TOKEN_PARAM) {
            Some(token) if secret_matches(token, secret) => Ok(()),
            Some(_) => Err(Rejection::BadSignature(TOKEN_LABEL)),
            None => Err(Rejection::MissingSignature(MISSING_LABEL)),
        }
    }

    fn parse(&self, instance: &str, request: &InboundRequest) -> Result<Parsed, Rejection> {
        jira::parse_webhook(&DATA_CENTER, instance, request)
    }
}

#[async_trait]
impl Target for JiraDc {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let path = "/rest/api/2/myself";
        let me = api.get(path).await?;
        let key = me
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| jira::bad_response(&DATA_CENTER, "GET", path, "no user key"))?;
        let name = me
            .get("displayName")
            .or_else(|| me.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(ProxyIdentity {
            id: key.to_owned(),
            name: name.to_owned(),
        })
    }

    async fn create_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
    ) -> Result<IssueRef, TargetError> {
        jira::create_issue(&DATA_CENTER, api, project, content, None).await
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        jira::update_issue(&DATA_CENTER, api, project, issue, update).await
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        jira::add_comment(&DATA_CENTER, api, issue, body).await
    }

    async fn update_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
        body: &str,
    ) -> Result<(), TargetError> {
        jira::update_comment(&DATA_CENTER, api, issue, comment_id, body).await
    }

    async fn delete_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        jira::delete_comment(&DATA_CENTER, api, issue, comment_id).await
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        jira::link(&DATA_CENTER, api, issue, peer).await
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        jira::key_in_project(project, issue)
    }

    fn dry_run_response(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        match method {
            "GET" if path.ends_with("/myself") => json!({"key": "(dry run)"}),
            _ => jira::dry_run_response(&DATA_CENTER, method, path, body),
        }
    }

    /// Checks the project permissions of [`REQUIRED_PERMISSIONS`] in each project of the
    /// instance option `projects` (a list of keys), or across all projects without it, the
    /// service desk agent permission in Jira Service Management projects, and
    /// [`SEARCH_PERMISSION`] in each connected project, which the catch-up searches.
    async fn preflight(&self, api: &Api, instance: &Instance) -> Vec<PreflightCheck> {
        let mut checks = project_checks(api, instance).await;
        let mut connected = crate::doctor::connected_projects(instance);
        connected.sort();
        connected.dedup();
        for project in &connected {
            checks.push(search_permission_check(api, project).await);
        }
        checks
    }
}

/// Checks [`REQUIRED_PERMISSIONS`] and the service desk agent permission in the projects of
/// the instance option `projects`, or [`REQUIRED_PERMISSIONS`] in any project without it.
async fn project_checks(api: &Api, instance: &Instance) -> Vec<PreflightCheck> {
    let projects: Vec<String> = instance
        .options
        .get("projects")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if projects.is_empty() {
        return permission_checks(api, None).await;
    }
    let mut checks = Vec::new();
    for project in &projects {
        checks.extend(permission_checks(api, Some(project)).await);
        checks.push(service_desk_check(api, project).await);
    }
    checks
}

/// Checks that the proxy user may browse `project`, so that the catch-up can search it.
async fn search_permission_check(api: &Api, project: &str) -> PreflightCheck {
    let name = format!("permission {SEARCH_PERMISSION} for catch-up in project {project}");
    let granted = match my_permissions(api, Some(project), &[SEARCH_PERMISSION]).await {
        Ok(answer) => answer
            .pointer(&format!("/permissions/{SEARCH_PERMISSION}/havePermission"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        Err(error) => {
            return failed_check(
                name,
                format!("could not read {SEARCH_PERMISSION} in project {project}: {error}"),
            );
        }
    };
    let detail = if granted {
        format!("granted in project {project}, so the catch-up can search it")
    } else {
        format!(
            "missing in project {project}: the catch-up searches {project} with JQL for \
             changes whose webhook never arrived, and Jira rejects that search without it; \
             grant {SEARCH_PERMISSION} (\"Browse Projects\") to the proxy user in the \
             project's permission scheme"
        )
    };
    PreflightCheck {
        name,
        ok: granted,
        detail,
    }
}

fn failed_check(name: String, detail: String) -> PreflightCheck {
    PreflightCheck {
        name,
        ok: false,
        detail,
    }
}

/// Reads `permissions` in `project` (or in any project) and returns whether each is granted.
async fn my_permissions(
    api: &Api,
    project: Option<&str>,
    permissions: &[&str],
) -> Result<Value, TargetError> {
    let mut path = format!(
        "/rest/api/2/mypermissions?permissions={}",
        permissions.join(",")
    );
    if let Some(project) = project {
        path.push_str(&format!("&projectKey={}", urlencoding::encode(project)));
    }
    api.get(&path).await
}

async fn permission_checks(api: &Api, project: Option<&str>) -> Vec<PreflightCheck> {
    let scope = project.map_or("any project".to_owned(), |key| format!("project {key}"));
    let answer = match my_permissions(api, project, &REQUIRED_PERMISSIONS).await {
        Ok(answer) => answer,
        Err(error) => {
            return vec![failed_check(
                format!("permissions in {scope}"),
                format!("could not read /rest/api/2/mypermissions: {error}"),
            )];
        }
    };
    REQUIRED_PERMISSIONS
        .iter()
        .map(|permission| {
            let granted = answer
                .pointer(&format!("/permissions/{permission}/havePermission"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let detail = if granted {
                format!("granted in {scope}")
            } else {
                format!(
                    "missing in {scope}: grant {permission} to the proxy user in the project's \
                     permission scheme"
                )
            };
            PreflightCheck {
                name: format!("permission {permission}"),
                ok: granted,
                detail,
            }
        })
        .collect()
}

/// Checks that the proxy user is an agent when `project` is a Jira Service Management project.
async fn service_desk_check(api: &Api, project: &str) -> PreflightCheck {
    let name = format!("service desk agent in {project}");
    let path = format!("/rest/api/2/project/{}", urlencoding::encode(project));
    let kind = match api.get(&path).await {
        Ok(answer) => answer
            .get("projectTypeKey")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Err(error) => {
            return failed_check(name, format!("could not read project {project}: {error}"));
        }
    };
    if kind != "service_desk" {
        return PreflightCheck {
            name,
            ok: true,
            detail: format!("not needed: {project} is a {kind} project"),
        };
    }
    let granted = match my_permissions(api, Some(project), &[AGENT_PERMISSION]).await {
        Ok(answer) => answer
            .pointer(&format!("/permissions/{AGENT_PERMISSION}/havePermission"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        Err(error) => {
            return failed_check(name, format!("could not read {AGENT_PERMISSION}: {error}"));
        }
    };
    let detail = if granted {
        "the proxy user is an agent".to_owned()
    } else {
        format!(
            "{project} is a Jira Service Management project: add the proxy user to its \
             Service Desk Team role so it gets {AGENT_PERMISSION}"
        )
    };
    PreflightCheck {
        name,
        ok: granted,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trackers::signature::sign_hex_hmac;

    fn request(headers: &[(&str, &str)], query: &[(&str, &str)]) -> InboundRequest {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        InboundRequest {
            headers: pairs(headers),
            query: pairs(query),
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn signature_header_wins_over_token() {
        let secret = SecretString::from("s3cret");
        let signature = sign_hex_hmac("other", b"{}");
        let result = JiraDc.verify(
            &request(&[("x-hub-signature", &signature)], &[("token", "s3cret")]),
            &secret,
        );
        assert_eq!(result, Err(Rejection::BadSignature(SIGNATURE_HEADER)));
    }

    #[test]
    fn url_token_accepted_without_signature() {
        let secret = SecretString::from("s3cret");
        let result = JiraDc.verify(&request(&[], &[("token", "s3cret")]), &secret);
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn wrong_url_token_rejected() {
        let secret = SecretString::from("s3cret");
        let result = JiraDc.verify(&request(&[], &[("token", "s3cre")]), &secret);
        assert_eq!(result, Err(Rejection::BadSignature(TOKEN_LABEL)));
    }

    #[test]
    fn neither_signature_nor_token_rejected() {
        let secret = SecretString::from("s3cret");
        let result = JiraDc.verify(&request(&[], &[]), &secret);
        assert_eq!(result, Err(Rejection::MissingSignature(MISSING_LABEL)));
    }

    #[test]
    fn auth_prefers_token_then_basic() {
        let token = Credentials {
            token: Some(SecretString::from("pat")),
            ..Credentials::default()
        };
        assert!(matches!(JiraDc.auth(&token), Ok(Auth::Bearer(_))));
        let basic = Credentials {
            username: Some("sync".to_owned()),
            password: Some(SecretString::from("pw")),
            ..Credentials::default()
        };
        assert!(matches!(JiraDc.auth(&basic), Ok(Auth::Basic { .. })));
        let error = JiraDc.auth(&Credentials::default()).unwrap_err();
        assert!(error.contains("\"token\""), "{error}");
    }

    #[test]
    fn wiki_text_is_a_string() {
        assert_eq!(wiki_text("**bold**"), json!("*bold*"));
    }
}
