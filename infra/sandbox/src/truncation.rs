//! Truncated responses: the request is served normally, so any write takes effect, but the
//! response body stops early and the connection closes, as when a proxy or the network cuts
//! a reply short.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::response::Response;
use http_body::Frame;
use serde::{Deserialize, Serialize};

use crate::webhooks::Tracker;

/// A rule that cuts the response body of matching tracker requests.
///
/// The filters match like a [`crate::Fault`]'s: `tracker` ("github" or "jira"), `method`
/// (case-insensitive) and `path_contains` (a substring of the path with its `/github` or
/// `/jira` prefix and its query string). A fault that matches the same request wins, because
/// the truncation applies only to normally served responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    #[serde(default)]
    pub tracker: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Bytes of the body that are sent before the connection closes. A value at or above the
    /// body's length sends all but its last byte, so every matching response is cut. An empty
    /// body cannot be cut and is sent as it is.
    #[serde(default)]
    pub keep_bytes: usize,
    /// Number of matching requests the rule applies to before it is used up.
    #[serde(default = "default_times")]
    pub times: u32,
}

fn default_times() -> u32 {
    1
}

impl Default for Truncation {
    /// Returns a rule that cuts the next tracker response after 0 bytes.
    fn default() -> Self {
        Truncation {
            tracker: None,
            method: None,
            path_contains: None,
            keep_bytes: 0,
            times: default_times(),
        }
    }
}

impl Truncation {
    fn matches(&self, tracker: Tracker, method: &str, path: &str) -> bool {
        let tracker_matches = self
            .tracker
            .as_deref()
            .is_none_or(|name| name.eq_ignore_ascii_case(tracker.as_str()));
        let method_matches = self
            .method
            .as_deref()
            .is_none_or(|expected| expected.eq_ignore_ascii_case(method));
        let path_matches = self
            .path_contains
            .as_deref()
            .is_none_or(|needle| path.contains(needle));
        self.times > 0 && tracker_matches && method_matches && path_matches
    }
}

/// Finds the first rule that matches, uses up one of its `times`, drops it when none remain,
/// and returns the number of bytes to keep.
pub(crate) fn take_matching(
    rules: &mut Vec<Truncation>,
    tracker: Tracker,
    method: &str,
    path: &str,
) -> Option<usize> {
    let index = rules
        .iter()
        .position(|rule| rule.matches(tracker, method, path))?;
    rules[index].times -= 1;
    let keep = rules[index].keep_bytes;
    if rules[index].times == 0 {
        rules.remove(index);
    }
    Some(keep)
}

/// Reads the whole body of `response` and returns a response that declares the full
/// `Content-Length` but sends only the first `keep` bytes before its body fails. Hyper then
/// stops writing and closes the connection, so the client sees an incomplete message.
pub(crate) async fn cut(response: Response, keep: usize) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "could not read the response body to truncate it");
            return Response::from_parts(parts, Body::empty());
        }
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let keep = keep.min(bytes.len() - 1);
    parts.headers.remove(TRANSFER_ENCODING);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let body = CutBody {
        prefix: Some(bytes.slice(..keep)),
    };
    Response::from_parts(parts, Body::new(body))
}

/// A body that yields its prefix, then an error. Its size is unknown to hyper, so hyper
/// trusts the `Content-Length` header and closes the connection when the error comes.
struct CutBody {
    prefix: Option<Bytes>,
}

impl http_body::Body for CutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.prefix.take() {
            Some(prefix) => Poll::Ready(Some(Ok(Frame::data(prefix)))),
            None => Poll::Ready(Some(Err(std::io::Error::other(
                "response truncated by the sandbox",
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_is_used_up_after_times() {
        let mut rules = vec![Truncation {
            tracker: Some("jira".to_owned()),
            path_contains: Some("/transitions".to_owned()),
            keep_bytes: 7,
            times: 2,
            ..Truncation::default()
        }];
        let path = "/jira/rest/api/3/issue/SUP-1/transitions";
        assert_eq!(
            take_matching(&mut rules, Tracker::Github, "GET", path),
            None
        );
        assert_eq!(
            take_matching(&mut rules, Tracker::Jira, "GET", path),
            Some(7)
        );
        assert_eq!(
            take_matching(&mut rules, Tracker::Jira, "GET", path),
            Some(7)
        );
        assert_eq!(take_matching(&mut rules, Tracker::Jira, "GET", path), None);
        assert!(rules.is_empty());
    }
}
