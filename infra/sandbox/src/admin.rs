//! The `/_sandbox` control routes, the HTTP form of the `Sandbox` methods. They need no
//! credentials, are never logged as tracker requests and never hit by faults.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::app::App;
use crate::faults::Fault;
use crate::webhooks::WebhookView;

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/_sandbox/health", get(health))
        .route("/_sandbox/state", get(state))
        .route("/_sandbox/requests", get(requests))
        .route("/_sandbox/webhooks/take", post(take_webhooks))
        .route(
            "/_sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sandbox/reset", post(reset))
        .route(
            "/_sandbox/salesforce/refresh-tokens",
            post(issue_salesforce_refresh_token),
        )
}

fn json_ok(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "failed to serialize a sandbox control response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /_sandbox/health`: returns `{"status": "ok"}` once the server accepts requests.
async fn health() -> Response {
    json_ok(StatusCode::OK, &json!({ "status": "ok" }))
}

/// `GET /_sandbox/state`: a `StateSnapshot` as JSON.
async fn state(State(app): State<Arc<App>>) -> Response {
    let snapshot = app.lock().store.snapshot();
    json_ok(StatusCode::OK, &snapshot)
}

/// `GET /_sandbox/requests`: the logged tracker requests, oldest first.
async fn requests(State(app): State<Arc<App>>) -> Response {
    let entries = app.lock().requests.entries();
    json_ok(StatusCode::OK, &entries)
}

/// `POST /_sandbox/webhooks/take`: drains the outbox and returns its webhooks, oldest first,
/// each as `{tracker, headers: [[name, value]], body, body_base64}`.
async fn take_webhooks(State(app): State<Arc<App>>) -> Response {
    let drained = std::mem::take(&mut app.lock().outbox);
    let views: Vec<WebhookView> = drained.iter().map(WebhookView::from).collect();
    json_ok(StatusCode::OK, &views)
}

/// `GET /_sandbox/faults`: the faults that are not used up yet.
async fn list_faults(State(app): State<Arc<App>>) -> Response {
    let faults = app.lock().faults.clone();
    json_ok(StatusCode::OK, &faults)
}

/// `POST /_sandbox/faults` with a `Fault` as JSON. Responds 201 with the fault as stored, or
/// 400 with `{"error": ...}` for an invalid one.
async fn add_fault(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let fault = match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => fault,
        Err(error) => {
            let message = format!("invalid fault JSON: {error}");
            return json_ok(StatusCode::BAD_REQUEST, &json!({ "error": message }));
        }
    };
    if let Err(message) = fault.validate() {
        return json_ok(StatusCode::BAD_REQUEST, &json!({ "error": message }));
    }
    tracing::info!(?fault, "fault added");
    app.lock().faults.push(fault.clone());
    json_ok(StatusCode::CREATED, &fault)
}

/// `DELETE /_sandbox/faults`: removes all faults.
async fn clear_faults(State(app): State<Arc<App>>) -> Response {
    app.lock().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /_sandbox/reset`: clears issues, webhooks, requests and faults.
async fn reset(State(app): State<Arc<App>>) -> Response {
    app.lock().reset();
    tracing::info!("sandbox state reset");
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /_sandbox/salesforce/refresh-tokens` with `{"username": ...}`: issues a refresh token
/// for that Salesforce user, as its first OAuth sign-in would, and responds 201 with
/// `{"refresh_token": ...}`. An invalid body gets 400 and an unknown user 404.
async fn issue_salesforce_refresh_token(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let username = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|request| request.get("username")?.as_str().map(str::to_owned));
    let Some(username) = username else {
        let message = "invalid request body: expected {\"username\": \"...\"}";
        return json_ok(StatusCode::BAD_REQUEST, &json!({ "error": message }));
    };
    match crate::salesforce::issue_refresh_token(&app, &username) {
        Some(token) => {
            tracing::info!(%username, "Salesforce refresh token issued");
            json_ok(StatusCode::CREATED, &json!({ "refresh_token": token }))
        }
        None => {
            tracing::warn!(%username, "no Salesforce refresh token issued: unknown user");
            let known: Vec<&str> = app
                .config
                .salesforce
                .users
                .iter()
                .map(|user| user.username.as_str())
                .collect();
            let message = format!(
                "no Salesforce user {username:?} in the sandbox configuration: use one of {}",
                known.join(", ")
            );
            json_ok(StatusCode::NOT_FOUND, &json!({ "error": message }))
        }
    }
}
