//! GitHub token authentication.

use axum::http::{HeaderMap, header};

use super::error::GithubError;
use crate::config::{GithubConfig, GithubUser};

/// The authenticated GitHub user, put in the request extensions by the gateway.
#[derive(Debug, Clone)]
pub(crate) struct GithubCaller(pub(crate) GithubUser);

/// Finds the configured user whose token is in the `Authorization` header, as
/// "Bearer <token>" or "token <token>". Like GitHub, rejects a request without a `User-Agent`
/// header with 403 before looking at the token.
pub(crate) fn authenticate(
    config: &GithubConfig,
    headers: &HeaderMap,
) -> Result<GithubUser, GithubError> {
    let has_user_agent = headers
        .get(header::USER_AGENT)
        .is_some_and(|value| !value.as_bytes().is_empty());
    if !has_user_agent {
        return Err(GithubError::missing_user_agent());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(token_from_authorization)
        .ok_or_else(GithubError::bad_credentials)?;
    config
        .users
        .iter()
        .find(|user| user.token == token)
        .cloned()
        .ok_or_else(GithubError::bad_credentials)
}

fn token_from_authorization(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let known_scheme =
        scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    let token = token.trim();
    (known_scheme && !token.is_empty()).then_some(token)
}
