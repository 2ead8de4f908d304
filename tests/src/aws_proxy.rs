//! A recording and fault-injecting HTTP proxy in front of an AWS endpoint (moto's server).
//!
//! Point an SDK client's endpoint URL at [`AwsProxy::endpoint`] and every call passes
//! through it: the proxy records the operation (from the `X-Amz-Target` header of the JSON
//! protocols that DynamoDB and Secrets Manager use) with its status and duration, and can
//! answer calls with throttling or server errors, or stop listening, so callers see AWS
//! throttled or unreachable. moto does not check SigV4 signatures, so the changed `Host`
//! does not matter.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One call that passed through the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsCall {
    /// `dynamodb`, `secretsmanager`, or the lower-case target prefix of another service.
    pub service: String,
    /// The API operation, such as `PutItem` or `GetSecretValue`.
    pub operation: String,
    /// The status the caller received.
    pub status: u16,
    /// Time from the request's arrival to the proxy's answer, upstream call included.
    pub duration: Duration,
    /// True when the proxy answered with an injected error instead of forwarding.
    pub injected: bool,
}

impl AwsCall {
    /// Returns true for operations that change DynamoDB or Secrets Manager state.
    pub fn is_write(&self) -> bool {
        const WRITES: [&str; 11] = [
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchWriteItem",
            "TransactWriteItems",
            "CreateTable",
            "DeleteTable",
            "CreateSecret",
            "PutSecretValue",
            "UpdateSecret",
            "DeleteSecret",
        ];
        WRITES.contains(&self.operation.as_str())
    }
}

/// An error the proxy answers with instead of forwarding a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsFailure {
    /// HTTP 400 with the service's throttling error, which the SDK retries with backoff.
    Throttle,
    /// HTTP 500 with an internal server error, which the SDK retries too.
    ServerError,
}

#[derive(Debug, Default)]
struct Injection {
    /// Calls still forwarded before the failures start.
    pass_first: u32,
    /// Calls answered with `failure` after that.
    times: u32,
    failure: Option<AwsFailure>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    calls: Mutex<Vec<AwsCall>>,
    injection: Mutex<Injection>,
}

/// A running proxy. Dropping it stops the server.
pub struct AwsProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl AwsProxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream` (such as moto's URL).
    pub async fn start(upstream: &str) -> AwsProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("build the proxy's HTTP client"),
            calls: Mutex::new(Vec::new()),
            injection: Mutex::new(Injection::default()),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the AWS proxy");
        let addr = listener.local_addr().expect("proxy address");
        let mut proxy = AwsProxy {
            shared,
            addr,
            shutdown: None,
            server: None,
        };
        proxy.serve(listener);
        proxy
    }

    /// The URL to use as the SDK's endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the calls recorded so far, oldest first.
    pub fn calls(&self) -> Vec<AwsCall> {
        lock(&self.shared.calls).clone()
    }

    /// Removes and returns the calls recorded so far.
    pub fn take_calls(&self) -> Vec<AwsCall> {
        std::mem::take(&mut *lock(&self.shared.calls))
    }

    /// Forwards the next `pass_first` calls, then answers the `times` calls after them with
    /// `failure`. A new injection replaces the previous one.
    pub fn inject(&self, pass_first: u32, failure: AwsFailure, times: u32) {
        *lock(&self.shared.injection) = Injection {
            pass_first,
            times,
            failure: Some(failure),
        };
    }

    /// Removes any injected failure.
    pub fn heal(&self) {
        *lock(&self.shared.injection) = Injection::default();
    }

    /// Stops listening, so new connections are refused; open keep-alive connections are closed
    /// once their current call has its answer.
    pub async fn go_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
    }

    /// Listens again on the same port after [`AwsProxy::go_down`].
    pub async fn come_up(&mut self) {
        if self.server.is_some() {
            return;
        }
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind the AWS proxy's port again");
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let router = Router::new()
            .fallback(forward)
            .with_state(self.shared.clone());
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = signal.await;
            });
            if let Err(error) = serve.await {
                eprintln!("AWS proxy stopped with an error: {error}");
            }
        });
        self.shutdown = Some(shutdown);
        self.server = Some(server);
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Splits `X-Amz-Target` (`DynamoDB_20120810.PutItem`, `secretsmanager.GetSecretValue`) into
/// the service and the operation.
fn operation_of(headers: &HeaderMap, method: &str, path: &str) -> (String, String) {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok());
    match target.and_then(|target| target.split_once('.')) {
        Some((prefix, operation)) => {
            let service = if prefix.starts_with("DynamoDB") {
                "dynamodb".to_owned()
            } else {
                prefix.to_ascii_lowercase()
            };
            (service, operation.to_owned())
        }
        None => ("unknown".to_owned(), format!("{method} {path}")),
    }
}

fn next_failure(shared: &Shared) -> Option<AwsFailure> {
    let mut injection = lock(&shared.injection);
    injection.failure?;
    if injection.pass_first > 0 {
        injection.pass_first -= 1;
        return None;
    }
    if injection.times == 0 {
        return None;
    }
    injection.times -= 1;
    injection.failure
}

fn failure_response(failure: AwsFailure, service: &str) -> Response {
    let (status, code, message) = match failure {
        AwsFailure::Throttle if service == "dynamodb" => (
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        AwsFailure::Throttle => (
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
        ),
        AwsFailure::ServerError if service == "dynamodb" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        ),
        AwsFailure::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServiceError",
            "Internal service error",
        ),
    };
    let body = serde_json::json!({"__type": code, "message": message}).to_string();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let (service, operation) = operation_of(request.headers(), method.as_str(), &path);

    let (response, injected) = match next_failure(&shared) {
        Some(failure) => (failure_response(failure, &service), true),
        None => (send_upstream(&shared, request, &path).await, false),
    };

    lock(&shared.calls).push(AwsCall {
        service,
        operation,
        status: response.status().as_u16(),
        duration: started.elapsed(),
        injected,
    });
    response
}

async fn send_upstream(shared: &Shared, request: Request, path: &str) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, format!("unreadable body: {error}")).into_response();
        }
    };
    let mut upstream = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(error) => {
            let message = format!("upstream {} failed: {error}", shared.upstream);
            return (StatusCode::BAD_GATEWAY, message).into_response();
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != header::TRANSFER_ENCODING && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
