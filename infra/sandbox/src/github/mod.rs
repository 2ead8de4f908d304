//! The fake GitHub REST API, mounted under `/github`.

pub(crate) mod auth;
mod comments;
pub(crate) mod error;
mod events;
mod hooks;
mod issues;
mod labels;
mod render;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, http::StatusCode};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::App;
use crate::config::GithubConfig;
use auth::GithubCaller;
use error::{GithubError, json_response};

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/user", get(current_user))
        .route(
            "/repos/{owner}/{repo}/issues",
            get(issues::list).post(issues::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(issues::get).patch(issues::update),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments::list).post(comments::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            get(comments::get)
                .patch(comments::update)
                .delete(comments::delete),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(labels::list).post(labels::add).put(labels::set),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            delete(labels::remove),
        )
        .route("/repos/{owner}/{repo}/hooks/{hook_id}", get(hooks::get))
        .route(
            "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries",
            get(hooks::list),
        )
        .route(
            "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
            axum::routing::post(hooks::redeliver),
        )
        .route(
            "/repositories/{repository_id}/hooks/{hook_id}/deliveries",
            get(hooks::list_by_repository_id),
        )
        .fallback(not_found)
}

/// `GET /user`: the account the token belongs to.
async fn current_user(
    State(app): State<Arc<App>>,
    Extension(GithubCaller(user)): Extension<GithubCaller>,
) -> Response {
    let mut body = render::user(&app.urls, &user);
    if let Value::Object(fields) = &mut body {
        fields.insert("name".to_owned(), Value::String(user.login.clone()));
        fields.insert(
            "user_view_type".to_owned(),
            Value::String("private".to_owned()),
        );
    }
    json_response(StatusCode::OK, &body)
}

async fn not_found() -> Response {
    GithubError::not_found().into_response()
}

/// The id of the first configured repository; the others follow in configuration order.
const FIRST_REPO_ID: u64 = 700_000_001;

/// A configured repository, with the ids the sandbox derives from its position in the config.
#[derive(Debug, Clone)]
pub(crate) struct RepoRef {
    /// "owner/name" as spelled in the configuration.
    pub(crate) full_name: String,
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) id: u64,
    pub(crate) owner_id: u64,
}

/// Finds a configured repository. Owner and name compare case-insensitively, as on GitHub.
pub(crate) fn find_repo(
    config: &GithubConfig,
    owner: &str,
    name: &str,
) -> Result<RepoRef, GithubError> {
    let requested = format!("{owner}/{name}").to_lowercase();
    let index = config
        .repos
        .iter()
        .position(|repo| repo.to_lowercase() == requested)
        .ok_or_else(GithubError::not_found)?;
    let full_name = config.repos[index].clone();
    let (owner, name) = full_name
        .split_once('/')
        .expect("validated repositories contain '/'");
    let owner_index = config
        .repos
        .iter()
        .position(|repo| {
            repo.split_once('/')
                .is_some_and(|(o, _)| o.eq_ignore_ascii_case(owner))
        })
        .unwrap_or(index);
    Ok(RepoRef {
        owner: owner.to_owned(),
        name: name.to_owned(),
        id: FIRST_REPO_ID + index as u64,
        owner_id: 800_000_001 + owner_index as u64,
        full_name,
    })
}

/// Finds a configured repository by the id that [`find_repo`] gives it.
pub(crate) fn find_repo_by_id(config: &GithubConfig, id: u64) -> Result<RepoRef, GithubError> {
    let index = id
        .checked_sub(FIRST_REPO_ID)
        .and_then(|index| usize::try_from(index).ok())
        .filter(|index| *index < config.repos.len())
        .ok_or_else(GithubError::not_found)?;
    let (owner, name) = config.repos[index]
        .split_once('/')
        .expect("validated repositories contain '/'");
    find_repo(config, owner, name)
}

/// Parses an issue or comment number from the path. GitHub returns 404 for one that is not a
/// number.
pub(crate) fn parse_number(value: &str) -> Result<u64, GithubError> {
    value.parse().map_err(|_| GithubError::not_found())
}

/// Parses a JSON request body into an object. An empty body counts as `{}`.
pub(crate) fn parse_object(body: &Bytes) -> Result<Map<String, Value>, GithubError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(GithubError::problems_parsing_json()),
    }
}

/// Parses GitHub's `since` query parameter, an ISO 8601 timestamp.
pub(crate) fn parse_since(
    params: &HashMap<String, String>,
) -> Result<Option<OffsetDateTime>, GithubError> {
    match params.get("since") {
        None => Ok(None),
        Some(value) => OffsetDateTime::parse(value, &Rfc3339)
            .map(Some)
            .map_err(|_| GithubError::validation("Issue", "since", "invalid")),
    }
}

/// Returns whether a stored GitHub timestamp is at or after `since`.
pub(crate) fn is_at_or_after(timestamp: &str, since: Option<OffsetDateTime>) -> bool {
    match (since, OffsetDateTime::parse(timestamp, &Rfc3339)) {
        (Some(since), Ok(time)) => time >= since,
        _ => true,
    }
}

/// Cuts one page out of `items` by the `page` and `per_page` query parameters (defaults 1 and
/// 30, at most 100 per page) and builds the `Link` header that points to the other pages.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    params: &HashMap<String, String>,
    page_url: &str,
) -> (Vec<T>, Option<String>) {
    let per_page = params
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = params
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last_page = items.len().div_ceil(per_page).max(1);
    let page_items: Vec<T> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();

    let link_to = |target: usize| {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .filter(|(key, _)| key.as_str() != "page" && key.as_str() != "per_page")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        pairs.sort();
        pairs.push(("per_page".to_owned(), per_page.to_string()));
        pairs.push(("page".to_owned(), target.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
            .collect();
        format!("{page_url}?{}", query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last_page {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(last_page)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
    }
    let header = (!links.is_empty()).then(|| links.join(", "));
    (page_items, header)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Builds a JSON array response with an optional `Link` header.
pub(crate) fn list_response(items: Vec<Value>, link: Option<String>) -> Response {
    let mut response = json_response(StatusCode::OK, &Value::Array(items));
    if let Some(link) = link
        && let Ok(value) = link.parse()
    {
        response.headers_mut().insert("link", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paginate_links_next_and_last() {
        let params = HashMap::from([("per_page".to_owned(), "2".to_owned())]);
        let (page, link) = paginate((1..=5).collect::<Vec<_>>(), &params, "http://x/issues");
        assert_eq!(page, vec![1, 2]);
        let link = link.expect("a first page of three has a Link header");
        assert!(link.contains("<http://x/issues?per_page=2&page=2>; rel=\"next\""));
        assert!(link.contains("<http://x/issues?per_page=2&page=3>; rel=\"last\""));
    }

    #[test]
    fn paginate_single_page_has_no_link() {
        let (page, link) = paginate(vec![1, 2], &HashMap::new(), "http://x/issues");
        assert_eq!(page, vec![1, 2]);
        assert!(link.is_none());
    }

    #[test]
    fn repo_lookup_ignores_case() {
        let config = crate::config::SandboxConfig::demo().github;
        let repo = find_repo(&config, "ACME", "Widgets").expect("demo repo exists");
        assert_eq!(repo.full_name, "acme/widgets");
        let other = find_repo(&config, "acme", "secret-plans").expect("demo repo exists");
        assert_eq!(repo.owner_id, other.owner_id);
        assert_ne!(repo.id, other.id);
        assert!(find_repo(&config, "acme", "missing").is_err());
    }
}
