//! `POST /oauth_token.do`: the password and refresh token grants, form-encoded.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{AccessGrant, RefreshGrant, json_response, new_token, now_secs};
use crate::app::App;

/// Returns the error ServiceNow sends for a wrong client id or secret.
fn access_denied() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error_description": "access_denied", "error": "server_error"}),
    )
}

fn invalid(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// Issues tokens for the password grant and the refresh token grant.
pub(crate) async fn token(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    };
    let config = &app.config.servicenow;
    let client_ok = config
        .oauth_clients
        .iter()
        .any(|c| c.client_id == field("client_id") && c.client_secret == field("client_secret"));
    if !client_ok {
        return access_denied();
    }

    let (answer, latency) = {
        let mut shared = app.lock();
        let store = &mut shared.servicenow;
        let settings = store.settings(config);
        let user_sys_id = match field("grant_type") {
            "password" => {
                let user = config.users.iter().find(|user| {
                    user.user_name == field("username") && user.password == field("password")
                });
                match user {
                    Some(user) => user.sys_id.clone(),
                    None => return access_denied(),
                }
            }
            "refresh_token" => {
                let presented = field("refresh_token").to_owned();
                let Some(grant) = store.refresh_tokens.get(&presented).cloned() else {
                    return invalid(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "unknown refresh token",
                    );
                };
                if grant.revoked || grant.client_id != field("client_id") {
                    return invalid(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "the refresh token is revoked or belongs to another client",
                    );
                }
                // A rotated token's predecessor dies once the successor is used.
                let predecessors: Vec<String> = store
                    .refresh_tokens
                    .iter()
                    .filter(|(_, g)| g.successor.as_deref() == Some(presented.as_str()))
                    .map(|(token, _)| token.clone())
                    .collect();
                for token in predecessors {
                    if let Some(old) = store.refresh_tokens.get_mut(&token) {
                        old.revoked = true;
                    }
                }
                grant.user_sys_id
            }
            other => {
                return invalid(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    &format!("grant type {other:?} is not supported by the sandbox"),
                );
            }
        };

        let access = new_token();
        store.access_tokens.insert(
            access.clone(),
            AccessGrant {
                user_sys_id: user_sys_id.clone(),
                expires_at: now_secs() + settings.lifetime_secs,
            },
        );
        let presented = field("refresh_token").to_owned();
        let refresh = if field("grant_type") == "password" || settings.rotate {
            let token = new_token();
            store.refresh_tokens.insert(
                token.clone(),
                RefreshGrant {
                    user_sys_id,
                    client_id: field("client_id").to_owned(),
                    revoked: false,
                    successor: None,
                },
            );
            if let Some(old) = store.refresh_tokens.get_mut(&presented) {
                old.successor = Some(token.clone());
            }
            token
        } else {
            presented
        };
        let answer: Value = json!({
            "access_token": access,
            "refresh_token": refresh,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": settings.lifetime_secs,
        });
        (answer, settings.latency_ms)
    };
    // The tokens exist from here on, also when the client gives up during the wait.
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    json_response(StatusCode::OK, &answer)
}
