//! A Lambda Runtime API emulator on loopback: the `next`, `response` and `error` routes of
//! the 2018-06-01 runtime interface, one invocation at a time, with timestamps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// How long a function has for one invocation, sent in Lambda's deadline header.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The function's response to one invocation.
#[derive(Debug)]
pub struct Answer {
    /// The response document (an API Gateway v2 response), or the error document.
    pub body: Value,
    pub error: bool,
    /// When the function fetched the event with `next`.
    pub fetched_at: Instant,
    /// When its response arrived.
    pub answered_at: Instant,
}

struct Pending {
    request_id: String,
    event: Value,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Pending>,
    running: Vec<(String, Instant, oneshot::Sender<Answer>)>,
    /// When the first `next` request arrived: the end of the function's init phase.
    first_poll: Option<Instant>,
}

struct Shared {
    queue: Mutex<Queue>,
    queued: Notify,
}

/// A running emulator. Dropping it stops the server.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    server: tokio::task::JoinHandle<()>,
    next_id: u64,
}

impl RuntimeApi {
    /// Starts the emulator on a free loopback port.
    pub async fn start() -> anyhow::Result<RuntimeApi> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            queued: Notify::new(),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("runtime API emulator stopped: {error}");
            }
        });
        Ok(RuntimeApi {
            shared,
            addr,
            server,
            next_id: 0,
        })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`, `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an event, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        lock(&self.shared.queue).first_poll
    }

    /// Queues `event` and waits up to `limit` for the function's answer.
    pub async fn invoke(&mut self, event: Value, limit: Duration) -> anyhow::Result<Answer> {
        self.next_id += 1;
        let request_id = format!("bench-{:08}", self.next_id);
        let (reply, answer) = oneshot::channel();
        lock(&self.shared.queue).waiting.push_back(Pending {
            request_id,
            event,
            reply,
        });
        self.shared.queued.notify_one();
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => anyhow::bail!("the emulator dropped the invocation"),
            Err(_) => anyhow::bail!("the function did not answer within {limit:?}"),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let now = Instant::now();
    lock(&shared.queue).first_poll.get_or_insert(now);
    let pending = loop {
        let notified = shared.queued.notified();
        if let Some(pending) = lock(&shared.queue).waiting.pop_front() {
            break pending;
        }
        notified.await;
    };

    let fetched_at = Instant::now();
    let deadline = SystemTime::now() + INVOCATION_TIMEOUT;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    lock(&shared.queue)
        .running
        .push((pending.request_id.clone(), fetched_at, pending.reply));

    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:proxysync-bench".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, pending.event.to_string()).into_response()
}

fn finish(shared: &Shared, id: &str, body: &Bytes, error: bool) -> Response {
    let answered_at = Instant::now();
    let running = {
        let mut queue = lock(&shared.queue);
        let index = queue.running.iter().position(|(known, _, _)| known == id);
        index.map(|index| queue.running.remove(index))
    };
    let Some((_, fetched_at, reply)) = running else {
        return (StatusCode::BAD_REQUEST, "unknown request id").into_response();
    };
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let _ = reply.send(Answer {
        body,
        error,
        fetched_at,
        answered_at,
    });
    StatusCode::ACCEPTED.into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    finish(&shared, &id, &body, false)
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    finish(&shared, &id, &body, true)
}

async fn init_error(body: Bytes) -> Response {
    eprintln!(
        "function init failed: {}",
        String::from_utf8_lossy(&body).trim()
    );
    StatusCode::ACCEPTED.into_response()
}
