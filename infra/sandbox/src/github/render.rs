//! JSON representations of GitHub resources, shaped like the REST API and webhook payloads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::RepoRef;
use crate::app::Urls;
use crate::config::{GithubConfig, GithubUser};
use crate::state::{GithubComment, GithubIssue, GithubLabel, GithubState};

/// Builds an opaque global node id in the style of GitHub's legacy ids: base64 of
/// "<kind>:<id>".
pub(crate) fn node_id(kind: &str, id: u64) -> String {
    BASE64.encode(format!("{kind}:{id}"))
}

/// Renders a user account, as in `issue.user` and `sender`.
pub(crate) fn user(urls: &Urls, user: &GithubUser) -> Value {
    account(urls, &user.login, user.id, "User")
}

/// Renders the configured user with `id`, or GitHub's "ghost" placeholder for an unknown
/// account.
pub(crate) fn user_by_id(config: &GithubConfig, urls: &Urls, id: u64) -> Value {
    match config.users.iter().find(|user| user.id == id) {
        Some(found) => user(urls, found),
        None => account(urls, "ghost", id, "User"),
    }
}

fn account(urls: &Urls, login: &str, id: u64, kind: &str) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(kind, id),
        "avatar_url": "",
        "gravatar_id": "",
        "url": format!("{}/users/{login}", urls.github_api),
        "html_url": format!("{}/{login}", urls.github_web),
        "type": kind,
        "site_admin": false,
    })
}

/// Renders a repository, as in the webhook `repository` field.
pub(crate) fn repository(urls: &Urls, repo: &RepoRef) -> Value {
    let api = format!("{}/repos/{}", urls.github_api, repo.full_name);
    json!({
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": false,
        "owner": account(urls, &repo.owner, repo.owner_id, "Organization"),
        "html_url": format!("{}/{}", urls.github_web, repo.full_name),
        "description": null,
        "fork": false,
        "url": api,
        "issues_url": format!("{api}/issues{{/number}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "has_issues": true,
        "archived": false,
        "disabled": false,
        "visibility": "public",
        "default_branch": "main",
    })
}

/// Renders a repository label.
pub(crate) fn label(urls: &Urls, label: &GithubLabel) -> Value {
    json!({
        "id": label.id,
        "node_id": label.node_id,
        "url": format!("{}/repos/{}/labels/{}", urls.github_api, label.repo, label.name),
        "name": label.name,
        "color": label.color,
        "default": false,
        "description": label.description,
    })
}

/// Renders the labels named `names` in `repo`, in the order given.
pub(crate) fn labels(urls: &Urls, state: &GithubState, repo: &str, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|name| {
            state
                .labels
                .iter()
                .find(|label| label.repo == repo && &label.name == name)
        })
        .map(|found| label(urls, found))
        .collect()
}

/// Renders an issue, as returned by the REST API and embedded in webhooks.
pub(crate) fn issue(
    config: &GithubConfig,
    urls: &Urls,
    state: &GithubState,
    issue: &GithubIssue,
) -> Value {
    let api = format!(
        "{}/repos/{}/issues/{}",
        urls.github_api, issue.repo, issue.number
    );
    json!({
        "url": api,
        "repository_url": format!("{}/repos/{}", urls.github_api, issue.repo),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": issue_html_url(urls, &issue.repo, issue.number),
        "id": issue.id,
        "node_id": issue.node_id,
        "number": issue.number,
        "title": issue.title,
        "user": user_by_id(config, urls, issue.author_id),
        "labels": labels(urls, state, &issue.repo, &issue.labels),
        "state": issue.state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": issue.comments,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "closed_by": issue.closed_by_id.map(|id| user_by_id(config, urls, id)),
        "author_association": "MEMBER",
        "active_lock_reason": null,
        "body": issue.body,
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": issue.state_reason,
    })
}

/// Renders an issue comment.
pub(crate) fn comment(config: &GithubConfig, urls: &Urls, comment: &GithubComment) -> Value {
    let html_url = format!(
        "{}#issuecomment-{}",
        issue_html_url(urls, &comment.repo, comment.issue_number),
        comment.id
    );
    json!({
        "url": format!("{}/repos/{}/issues/comments/{}", urls.github_api, comment.repo, comment.id),
        "html_url": html_url,
        "issue_url": format!("{}/repos/{}/issues/{}", urls.github_api, comment.repo, comment.issue_number),
        "id": comment.id,
        "node_id": comment.node_id,
        "user": user_by_id(config, urls, comment.author_id),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "author_association": "MEMBER",
        "body": comment.body,
        "performed_via_github_app": null,
    })
}

fn issue_html_url(urls: &Urls, repo: &str, number: u64) -> String {
    format!("{}/{repo}/issues/{number}", urls.github_web)
}
