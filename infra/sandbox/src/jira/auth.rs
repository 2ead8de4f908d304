//! Jira Basic authentication with an email address and an API token.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::error::JiraError;
use crate::config::{JiraConfig, JiraUser};

/// The authenticated Jira user, put in the request extensions by the gateway.
#[derive(Debug, Clone)]
pub(crate) struct JiraCaller(pub(crate) JiraUser);

/// Finds the configured user whose "email:api_token" pair is in a Basic `Authorization`
/// header. Email addresses compare case-insensitively, tokens exactly.
pub(crate) fn authenticate(
    config: &JiraConfig,
    headers: &HeaderMap,
) -> Result<JiraUser, JiraError> {
    let (email, token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(basic_credentials)
        .ok_or_else(JiraError::unauthorized)?;
    config
        .users
        .iter()
        .find(|user| user.email.eq_ignore_ascii_case(&email) && user.api_token == token)
        .cloned()
        .ok_or_else(JiraError::unauthorized)
}

/// Decodes "Basic base64(user:password)" into its two parts.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (email, token) = decoded.split_once(':')?;
    Some((email.to_owned(), token.to_owned()))
}
