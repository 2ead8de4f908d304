//! The HTTP client that tracker modules call targets through.
//!
//! [`Api`] adds authentication and default headers, retries rate limits and
//! server errors while the sync budget lasts, and turns error answers into
//! [`TargetError`]s. In a dry run it records each request instead of sending it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::TargetError;
use crate::model::TrackerKind;
use crate::tracker::{Auth, TrackerModule};

/// The maximum duration of one request before it counts as timed out.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The maximum number of attempts of one request, whatever the budget, so `Retry-After: 0` cannot spin.
const MAX_ATTEMPTS: u32 = 6;
/// GitHub's header with the expiry time of a personal access token.
const GITHUB_TOKEN_EXPIRY: &str = "github-authentication-token-expiration";
/// The time before a token's expiry from which the client warns.
const TOKEN_EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// The answer of [`Api::send_raw`]: status, headers and the body as text.
#[derive(Clone, Debug, Default)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

/// A request that a dry run would have sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedRequest {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
}

/// The requests recorded by a dry run, shared with the caller that reads them.
pub type RequestLog = Arc<Mutex<Vec<PlannedRequest>>>;

/// An authenticated client for one tracker instance, bound to a deadline.
pub struct Api {
    tracker: TrackerKind,
    instance: String,
    base_url: String,
    client: reqwest::Client,
    auth: Auth,
    module: &'static dyn TrackerModule,
    deadline: Instant,
    dry_run: Option<RequestLog>,
    options: serde_json::Map<String, Value>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("tracker", &self.tracker)
            .field("instance", &self.instance)
            .field("base_url", &self.base_url)
            .field("dry_run", &self.dry_run.is_some())
            .finish_non_exhaustive()
    }
}

/// What `Api::new` needs to know about the instance it calls.
pub struct ApiTarget<'a> {
    pub tracker: TrackerKind,
    pub instance: &'a str,
    pub base_url: &'a str,
    pub module: &'static dyn TrackerModule,
}

impl Api {
    /// Creates a client that sends real requests until `deadline`.
    pub fn new(
        client: reqwest::Client,
        target: ApiTarget<'_>,
        auth: Auth,
        deadline: Instant,
    ) -> Api {
        Api {
            tracker: target.tracker,
            instance: target.instance.to_owned(),
            base_url: target.base_url.trim_end_matches('/').to_owned(),
            client,
            auth,
            module: target.module,
            deadline,
            dry_run: None,
            options: serde_json::Map::new(),
        }
    }

    /// Attaches the instance's tracker-specific options, for modules that read them.
    pub fn with_options(mut self, options: serde_json::Map<String, Value>) -> Api {
        self.options = options;
        self
    }

    /// The instance's tracker-specific options (empty unless attached).
    pub fn options(&self) -> &serde_json::Map<String, Value> {
        &self.options
    }

    /// The user name of basic authentication, when the client signs in that way.
    pub fn basic_user(&self) -> Option<&str> {
        match &self.auth {
            Auth::Basic { user, .. } => Some(user),
            Auth::Bearer(_) | Auth::Headers(_) => None,
        }
    }

    /// Turns this client into a dry run that records requests into `log`.
    pub fn into_dry_run(mut self, log: RequestLog) -> Api {
        self.dry_run = Some(log);
        self
    }

    /// Returns true when this client records requests instead of sending them.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run.is_some()
    }

    /// The tracker this client calls.
    pub fn tracker(&self) -> TrackerKind {
        self.tracker
    }

    /// The instance's API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a GET request and returns the JSON response.
    pub async fn get(&self, path: &str) -> Result<Value, TargetError> {
        self.send(Method::GET, path, None).await
    }

    /// Sends a POST request with a JSON body and returns the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, TargetError> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Sends a PUT request with a JSON body and returns the JSON answer.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, TargetError> {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Sends a PATCH request with a JSON body and returns the JSON answer.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, TargetError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// Sends a DELETE request and returns the JSON answer.
    pub async fn delete(&self, path: &str) -> Result<Value, TargetError> {
        self.send(Method::DELETE, path, None).await
    }

    /// Sends a GET request with the retries of [`Api::send`] and returns the JSON body with
    /// the response headers, for lists whose next page is named in a `Link` header.
    ///
    /// # Errors
    /// As [`Api::send`].
    pub async fn get_page(&self, path: &str) -> Result<(Value, HeaderMap), TargetError> {
        self.send_with_headers(&Method::GET, path, None, None).await
    }

    /// Sends one GET request without retries and returns the JSON answer with its headers,
    /// for checks that read response headers such as a token's scopes or expiry.
    ///
    /// # Errors
    /// [`TargetError::Status`] for an error answer, [`TargetError::Unavailable`] when the
    /// tracker cannot be reached.
    pub async fn get_with_headers(&self, path: &str) -> Result<(Value, HeaderMap), TargetError> {
        if let Some(log) = &self.dry_run {
            return Ok((self.record(log, &Method::GET, path, None), HeaderMap::new()));
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let mut request = self
            .client
            .get(format!("{}{}", self.base_url, path))
            .timeout(remaining.min(REQUEST_TIMEOUT));
        for (name, value) in self.module.default_headers() {
            request = request.header(*name, *value);
        }
        request = self.authenticate(request);
        let response = request.send().await.map_err(|error| {
            self.unavailable(&Method::GET, path, &error.without_url().to_string())
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(TargetError::Status {
                tracker: self.tracker,
                status: status.as_u16(),
                method: "GET".to_owned(),
                path: path.to_owned(),
                message: error_message(&text),
            });
        }
        Ok((self.parse_body(&Method::GET, path, &text)?, headers))
    }

    /// Sends one request, retrying rate limits and server errors while the budget lasts.
    ///
    /// # Errors
    /// [`TargetError::Status`] for an error answer that a retry cannot fix,
    /// [`TargetError::RateLimited`] or [`TargetError::Unavailable`] when the
    /// budget ran out first.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, TargetError> {
        self.send_as(method, path, body, None).await
    }

    /// Sends one request like [`Api::send`], with a JSON body of another content type, such
    /// as `application/json-patch+json`.
    ///
    /// # Errors
    /// As [`Api::send`].
    pub async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        content_type: Option<&'static str>,
    ) -> Result<Value, TargetError> {
        let (value, _) = self
            .send_with_headers(&method, path, body, content_type)
            .await?;
        Ok(value)
    }

    async fn send_with_headers(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        content_type: Option<&'static str>,
    ) -> Result<(Value, HeaderMap), TargetError> {
        if let Some(log) = &self.dry_run {
            return Ok((self.record(log, method, path, body), HeaderMap::new()));
        }

        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send_once(method, path, body, content_type).await;
            let wait = match outcome {
                Attempt::Done(result) => return result,
                Attempt::Retry { wait, error } => {
                    // A huge Retry-After would overflow Instant, so compare with what is left.
                    let left = self.deadline.saturating_duration_since(Instant::now());
                    let give_up = attempt >= MAX_ATTEMPTS || wait >= left;
                    if give_up {
                        return Err(error);
                    }
                    tracing::warn!(
                        tracker = %self.tracker,
                        instance = %self.instance,
                        %method,
                        path,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        error = %error,
                        "retrying target request"
                    );
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Returns a client for the same instance and deadline that signs requests with `auth`,
    /// for trackers that exchange a password for a session first.
    pub fn with_auth(&self, auth: Auth) -> Api {
        Api {
            tracker: self.tracker,
            instance: self.instance.clone(),
            base_url: self.base_url.clone(),
            client: self.client.clone(),
            auth,
            module: self.module,
            deadline: self.deadline,
            dry_run: self.dry_run.clone(),
            options: self.options.clone(),
        }
    }

    /// Sends one request without retries and returns the raw answer, for calls whose body is
    /// not JSON (XML) or whose response headers matter (a session's cookies).
    ///
    /// `headers` replace the module's default headers of the same name; `body` is a content
    /// type and the text. In a dry run nothing is sent and the answer is empty.
    ///
    /// # Errors
    /// [`TargetError::Status`] for an error answer, [`TargetError::Unavailable`] when the
    /// tracker cannot be reached.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Result<RawAnswer, TargetError> {
        if let Some(log) = &self.dry_run {
            self.record(log, &method, path, None);
            return Ok(RawAnswer::default());
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(self.unavailable(&method, path, "sync budget exhausted"));
        }
        let mut request = self
            .client
            .request(method.clone(), format!("{}{}", self.base_url, path))
            .timeout(remaining.min(REQUEST_TIMEOUT));
        for (name, value) in self.module.default_headers() {
            if !headers
                .iter()
                .any(|(own, _)| own.eq_ignore_ascii_case(name))
            {
                request = request.header(*name, *value);
            }
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = self.authenticate(request);
        if let Some((content_type, text)) = body {
            request = request.header("content-type", content_type).body(text);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.unavailable(&method, path, &error.without_url().to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|error| {
            self.unavailable(
                &method,
                path,
                &format!("truncated response: {}", error.without_url()),
            )
        })?;
        if !status.is_success() {
            return Err(TargetError::Status {
                tracker: self.tracker,
                status: status.as_u16(),
                method: method.to_string(),
                path: path.to_owned(),
                message: error_message(&text),
            });
        }
        Ok(RawAnswer {
            status: status.as_u16(),
            headers,
            text,
        })
    }

    fn authenticate(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Auth::Basic { user, password } => {
                request.basic_auth(user, Some(password.expose_secret()))
            }
            Auth::Headers(headers) => {
                let mut request = request;
                for (name, value) in headers {
                    match reqwest::header::HeaderValue::from_str(value.expose_secret()) {
                        Ok(mut value) => {
                            value.set_sensitive(true);
                            request = request.header(name.as_str(), value);
                        }
                        Err(_) => tracing::warn!(
                            tracker = %self.tracker,
                            header = name.as_str(),
                            "session header value is not valid in HTTP; it is left out"
                        ),
                    }
                }
                request
            }
        }
    }

    fn record(&self, log: &RequestLog, method: &Method, path: &str, body: Option<&Value>) -> Value {
        let planned = PlannedRequest {
            method: method.to_string(),
            path: path.to_owned(),
            body: body.cloned(),
        };
        log.lock().expect("request log lock poisoned").push(planned);
        self.module
            .target()
            .dry_run_response(method.as_str(), path, body)
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        content_type: Option<&'static str>,
    ) -> Attempt {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Attempt::Done(Err(self.unavailable(method, path, "sync budget exhausted")));
        }

        let url = format!("{}{}", self.base_url, path);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .timeout(remaining.min(REQUEST_TIMEOUT));
        for (name, value) in self.module.default_headers() {
            request = request.header(*name, *value);
        }
        request = self.authenticate(request);
        if let Some(content_type) = content_type {
            // `json` keeps a content type that is already set.
            request = request.header("content-type", content_type);
        }
        if let Some(body) = body {
            request = request.json(body);
        }

        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                // A POST may have been applied when the connection failed after sending it.
                // So it is retried only when the connection never opened, and parked otherwise.
                let retry = error.is_connect() || method != Method::POST;
                // reqwest's error text names the URL, which contains no secret, because tokens travel in headers.
                let error = self.unavailable(method, path, &error.without_url().to_string());
                if !retry {
                    return Attempt::Done(Err(error));
                }
                return Attempt::Retry {
                    wait: backoff(1),
                    error,
                };
            }
        };

        let status = response.status();
        let headers = response.headers().clone();
        self.check_token_expiry(&headers);
        let text = match response.text().await {
            Ok(text) => text,
            Err(error) => {
                let error = self.unavailable(
                    method,
                    path,
                    &format!("truncated response: {}", error.without_url()),
                );
                // The tracker applied the request; sending a POST again would apply it twice.
                if *method == Method::POST {
                    return Attempt::Done(Err(error));
                }
                return Attempt::Retry {
                    wait: backoff(1),
                    error,
                };
            }
        };

        if status.is_success() {
            return Attempt::Done(
                self.parse_body(method, path, &text)
                    .map(|value| (value, headers)),
            );
        }
        self.classify_error(method, path, status, &headers, &text)
    }

    fn parse_body(&self, method: &Method, path: &str, text: &str) -> Result<Value, TargetError> {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text).map_err(|error| TargetError::BadResponse {
            tracker: self.tracker,
            method: method.to_string(),
            path: path.to_owned(),
            message: format!("body is not JSON: {error}"),
        })
    }

    fn classify_error(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        text: &str,
    ) -> Attempt {
        let status_error = TargetError::Status {
            tracker: self.tracker,
            status: status.as_u16(),
            method: method.to_string(),
            path: path.to_owned(),
            message: error_message(text),
        };

        if let Some(wait) = rate_limit_wait(status, headers) {
            let error = TargetError::RateLimited {
                tracker: self.tracker,
                wait,
            };
            return Attempt::Retry { wait, error };
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Attempt::Retry {
                wait: backoff(2),
                error: status_error,
            };
        }
        Attempt::Done(Err(status_error))
    }

    fn unavailable(&self, method: &Method, path: &str, message: &str) -> TargetError {
        TargetError::Unavailable {
            tracker: self.tracker,
            method: method.to_string(),
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }

    fn check_token_expiry(&self, headers: &HeaderMap) {
        let Some(value) = headers
            .get(GITHUB_TOKEN_EXPIRY)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let Some(expires) = parse_github_expiry(value) else {
            tracing::debug!(value, "unreadable token expiration header");
            return;
        };
        let now = SystemTime::now();
        let left = expires.duration_since(now).unwrap_or_default();
        crate::metrics::token_seconds_left(self.tracker, left.as_secs() as i64);
        if left < TOKEN_EXPIRY_WARNING && first_warning_this_hour(&self.instance) {
            tracing::warn!(
                tracker = %self.tracker,
                instance = %self.instance,
                expires = value,
                hours_left = left.as_secs() / 3600,
                "proxy token expires soon: replace it in the instance secret"
            );
        }
    }
}

/// Returns true at most once an hour per instance, so a warm function warns without flooding the log.
fn first_warning_this_hour(instance: &str) -> bool {
    static LAST: Mutex<Option<std::collections::HashMap<String, std::time::Instant>>> =
        Mutex::new(None);
    let mut last = LAST.lock().expect("warning clock lock poisoned");
    let last = last.get_or_insert_with(std::collections::HashMap::new);
    let now = std::time::Instant::now();
    match last.get(instance) {
        Some(at) if now.duration_since(*at) < Duration::from_secs(3600) => false,
        _ => {
            last.insert(instance.to_owned(), now);
            true
        }
    }
}

enum Attempt {
    Done(Result<(Value, HeaderMap), TargetError>),
    Retry { wait: Duration, error: TargetError },
}

/// Returns the wait a rate-limit answer asks for, or `None` when the answer is not a rate limit.
///
/// GitHub signals its primary limit with 403 or 429 and `x-ratelimit-remaining: 0`
/// plus `x-ratelimit-reset` in epoch seconds, and secondary limits with
/// `retry-after`. Jira Cloud sends 429 (and some 503s) with `Retry-After` in seconds.
pub fn rate_limit_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after").and_then(parse_retry_after);
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");

    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (exhausted || retry_after.is_some()))
        || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some());
    if !limited {
        return None;
    }
    if let Some(wait) = retry_after {
        return Some(wait);
    }
    if exhausted {
        let reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(reset) = reset {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            return Some(Duration::from_secs(reset.saturating_sub(now)));
        }
    }
    Some(Duration::from_secs(60))
}

/// Returns the URL of the `rel="next"` link in a `Link` header (RFC 8288), as GitHub sends
/// on paginated lists, or `None` on the last page.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let is_next = params.split(';').any(|param| {
                let (name, value) = param.split_once('=').unwrap_or((param, ""));
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
}

/// Parses `Retry-After` given in seconds; an HTTP date counts as one minute.
fn parse_retry_after(value: &str) -> Option<Duration> {
    match value.trim().parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) if !value.trim().is_empty() => Some(Duration::from_secs(60)),
        Err(_) => None,
    }
}

/// Parses GitHub's `2026-12-10 12:00:00 UTC` token expiry format.
fn parse_github_expiry(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let trimmed = value.trim().trim_end_matches("UTC").trim();
    let datetime = time::PrimitiveDateTime::parse(trimmed, &format).ok()?;
    let seconds = datetime.assume_utc().unix_timestamp();
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// Extracts a readable message from a tracker's JSON error body, or the start of the text.
fn error_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    if let Some(value) = parsed {
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return message.to_owned();
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(list) = value.get("errorMessages").and_then(Value::as_array) {
            parts.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if let Some(map) = value.get("errors").and_then(Value::as_object) {
            parts.extend(
                map.iter().map(|(field, error)| {
                    format!("{field}: {}", error.as_str().unwrap_or("invalid"))
                }),
            );
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let mut message: String = text.chars().take(200).collect();
    if message.is_empty() {
        message = "empty body".to_owned();
    }
    message
}

/// An exponential backoff with jitter, starting near 200 ms.
fn backoff(step: u32) -> Duration {
    let base = 200u64 << step.min(5);
    let jitter = rand::rng().random_range(0..=base / 2);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_seconds() {
        let wait = rate_limit_wait(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "3")]),
        );
        assert_eq!(wait, Some(Duration::from_secs(3)));
    }

    #[test]
    fn retry_after_zero() {
        let wait = rate_limit_wait(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "0")]),
        );
        assert_eq!(wait, Some(Duration::ZERO));
    }

    #[test]
    fn github_primary_limit_uses_reset() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let reset = (now + 120).to_string();
        let map = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ]);
        let wait = rate_limit_wait(StatusCode::FORBIDDEN, &map).unwrap();
        assert!(wait >= Duration::from_secs(110), "wait {wait:?}");
    }

    #[test]
    fn plain_forbidden_is_not_rate_limit() {
        let map = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &map), None);
    }

    #[test]
    fn github_expiry_parses() {
        let parsed = parse_github_expiry("2026-12-10 12:00:00 UTC").unwrap();
        let seconds = parsed.duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(seconds, 1_796_904_000);
    }

    #[test]
    fn next_link_among_other_relations() {
        let map = headers(&[(
            "link",
            "<https://api.github.com/x?page=1>; rel=\"prev\", \
             <https://api.github.com/repositories/7/hooks/9/deliveries?per_page=100&cursor=v1_5%3D>; rel=\"next\"",
        )]);
        assert_eq!(
            next_link(&map).as_deref(),
            Some(
                "https://api.github.com/repositories/7/hooks/9/deliveries?per_page=100&cursor=v1_5%3D"
            )
        );
    }

    #[test]
    fn next_link_absent_on_last_page() {
        let map = headers(&[("link", "<https://api.github.com/x?page=1>; rel=\"first\"")]);
        assert_eq!(next_link(&map), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn jira_error_message_joined() {
        let text = r#"{"errorMessages":["No access"],"errors":{"summary":"required"}}"#;
        assert_eq!(error_message(text), "No access; summary: required");
    }
}
