//! The Lambda side of a webhook function: API Gateway request in, pipeline, JSON response out.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use tokio::time::Instant;
use tracing::level_filters::LevelFilter;

use crate::config::Settings;
use crate::pipeline::{Pipeline, WebhookResponse};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::time_util::now_ms;
use crate::tracker::{InboundRequest, RawResponse};

/// Time kept back from the Lambda deadline to answer and to park an event.
const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Builds the AWS clients and the pipeline from the environment, once per container.
///
/// # Errors
/// A missing or invalid setting, named in the message.
pub async fn pipeline_from_env() -> Result<Pipeline, crate::error::ConfigError> {
    let settings = Settings::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), settings.table.clone());
    let secrets = Secrets::aws(
        aws_sdk_secretsmanager::Client::new(&aws),
        settings.secret_ttl,
    );
    let http = http_client()?;
    Ok(Pipeline::new(settings, store, secrets, http))
}

/// The HTTP client for tracker calls, shared by every request of a container.
///
/// # Errors
/// The TLS set-up failed.
pub fn http_client() -> Result<reqwest::Client, crate::error::ConfigError> {
    reqwest::Client::builder()
        .user_agent(concat!("proxysync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| crate::error::ConfigError(format!("could not build the HTTP client: {e}")))
}

/// Installs the log subscriber that Lambda's log settings select. `AWS_LAMBDA_LOG_FORMAT=JSON`
/// writes JSON lines, and `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`) sets the minimum level, INFO
/// when unset or not a level name. Text lines carry no colour codes, so CloudWatch shows them
/// as written.
pub fn init_logging() {
    let (level, json) = log_settings(|name| std::env::var(name).ok());
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_max_level(level)
        .with_writer(std::io::stdout);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Reads the minimum log level and whether to write JSON from Lambda's log variables.
fn log_settings(var: impl Fn(&str) -> Option<String>) -> (LevelFilter, bool) {
    let level = var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| var("RUST_LOG"))
        .and_then(|value| value.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json =
        var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("json"));
    (level, json)
}

/// Runs a webhook function for `route` until the Lambda runtime stops it.
///
/// # Errors
/// The settings are invalid, or the runtime failed.
pub async fn serve(route: &'static str) -> Result<(), lambda_http::Error> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let message = "AWS_LAMBDA_RUNTIME_API is not set: run this function in AWS Lambda or under `cargo lambda watch`";
        return Err(crate::error::ConfigError(message.to_owned()).into());
    }
    init_logging();
    let pipeline = Arc::new(pipeline_from_env().await?);
    lambda_http::run(service_fn(move |request: Request| {
        let pipeline = pipeline.clone();
        async move {
            let response = crate::metrics::flushed(handle(&pipeline, route, request)).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// Handles one API Gateway request; the instance comes from the `{instance}` path parameter.
pub async fn handle(pipeline: &Pipeline, route: &str, request: Request) -> Response<Body> {
    if request.method() != lambda_http::http::Method::POST {
        let answer = WebhookResponse::error(
            405,
            "method_not_allowed",
            format!(
                "{} is not allowed: webhooks are POST requests",
                request.method()
            ),
        );
        return to_response(pipeline.render(route, &answer));
    }
    let from_route = request
        .path_parameters_ref()
        .and_then(|params| params.first("instance"))
        .map(str::to_owned);
    let Some(instance) = from_route.or_else(|| instance_from_path(request.uri().path(), route))
    else {
        let message = format!(
            "no webhook at {}: post to /webhooks/{route}/{{instance}}",
            request.uri().path()
        );
        return to_response(pipeline.render(
            route,
            &WebhookResponse::error(404, "unknown_route", message),
        ));
    };
    let deadline = deadline(pipeline, &request);
    let query: Vec<(String, String)> = request
        .query_string_parameters_ref()
        .map(|params| {
            params
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect()
        })
        .unwrap_or_default();

    let (parts, body) = request.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    // lambda_http has already decoded a base64 body (isBase64Encoded) into bytes.
    let body = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let inbound = InboundRequest {
        headers,
        query,
        body,
    };
    let answer = pipeline
        .handle_webhook(route, &instance, &inbound, deadline)
        .await;
    to_response(pipeline.render(route, &answer))
}

/// Takes the last path segment, for callers (such as a function URL) that pass no path parameters.
fn instance_from_path(path: &str, route: &str) -> Option<String> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let instance = segments.next().filter(|segment| !segment.is_empty())?;
    let found_route = segments.next()?;
    let webhooks = segments.next()?;
    (found_route == route && webhooks == "webhooks").then(|| instance.to_owned())
}

fn deadline(pipeline: &Pipeline, request: &Request) -> Instant {
    let budget = pipeline.settings().sync_budget;
    let lambda_left_ms = request
        .lambda_context_ref()
        .and_then(|context| i64::try_from(context.deadline).ok())
        .map(|deadline| deadline - now_ms());
    let left = match lambda_left_ms {
        // A deadline already past is an emulator's placeholder: real Lambda stops
        // the function at its deadline, so the budget alone applies.
        Some(left_ms) if left_ms > 0 => {
            let left =
                Duration::from_millis(left_ms.unsigned_abs()).saturating_sub(DEADLINE_MARGIN);
            left.min(budget)
        }
        _ => budget,
    };
    Instant::now() + left
}

fn to_response(response: RawResponse) -> Response<Body> {
    Response::builder()
        .status(response.status)
        .header("content-type", response.content_type)
        .body(Body::Text(response.body))
        .expect("status and header are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (LevelFilter, bool) {
        log_settings(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn log_settings_default_info_text() {
        assert_eq!(settings(&[]), (LevelFilter::INFO, false));
    }

    #[test]
    fn log_settings_read_lambda_variables() {
        let (level, json) = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "trace"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]);
        assert_eq!(level, LevelFilter::WARN);
        assert!(json);
        assert_eq!(settings(&[("RUST_LOG", "debug")]).0, LevelFilter::DEBUG);
    }

    #[test]
    fn log_settings_unknown_level_is_info() {
        let (level, _) = settings(&[("AWS_LAMBDA_LOG_LEVEL", "proxysync_core=debug")]);
        assert_eq!(level, LevelFilter::INFO);
    }

    #[test]
    fn instance_is_last_segment() {
        let found = instance_from_path("/webhooks/github/acme-github", "github");
        assert_eq!(found.as_deref(), Some("acme-github"));
        let trailing = instance_from_path("/prod/webhooks/github/acme-github/", "github");
        assert_eq!(trailing.as_deref(), Some("acme-github"));
    }

    #[test]
    fn other_paths_have_no_instance() {
        assert_eq!(
            instance_from_path("/webhooks/gitlab/acme-github", "github"),
            None
        );
        assert_eq!(instance_from_path("/foo/bar/acme-github", "github"), None);
        assert_eq!(instance_from_path("/webhooks/github/", "github"), None);
    }
}
