//! Injected faults: error responses and delays that replace the normal response to matching
//! requests.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::github::error::{DOCUMENTATION_URL, json_response as github_json};
use crate::jira::error::json_response as jira_json;
use crate::webhooks::Tracker;

/// A rule that responds to matching tracker requests with an error, or delays them.
///
/// Every filter that is set must match: `tracker` ("github" or "jira"), `method`
/// (case-insensitive) and `path_contains`, a substring of the request path including its
/// `/github` or `/jira` prefix and its query string. Requests to `/_sandbox` never match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub tracker: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Status code of the response. 0 only delays the request by `delay_ms`, then serves it normally.
    pub status: u16,
    /// Extra response headers, such as `("Retry-After", "2")`. They replace the rate-limit
    /// headers the sandbox adds to GitHub responses.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Response body. `None` gives an error body in the tracker's shape for statuses of 400 and
    /// above, and an empty body otherwise.
    #[serde(default)]
    pub body: Option<Value>,
    /// Number of matching requests the fault applies to before it is used up. A fault with 0 never
    /// matches.
    #[serde(default = "default_times")]
    pub times: u32,
    /// Milliseconds to wait before responding.
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_times() -> u32 {
    1
}

impl Default for Fault {
    /// Returns a fault that matches every tracker request once and responds 500.
    fn default() -> Self {
        Fault {
            tracker: None,
            method: None,
            path_contains: None,
            status: 500,
            headers: Vec::new(),
            body: None,
            times: default_times(),
            delay_ms: 0,
        }
    }
}

impl Fault {
    /// Checks the fields that `Sandbox::add_fault` cannot reject on its own: the tracker name,
    /// the status range and the header names and values.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(tracker) = &self.tracker {
            tracker.parse::<Tracker>()?;
        }
        if self.status != 0 && StatusCode::from_u16(self.status).is_err() {
            return Err(format!(
                "invalid fault status {}: expected 0 or 100 to 999",
                self.status
            ));
        }
        for (name, value) in &self.headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!("invalid fault header name {name:?}"));
            }
            if HeaderValue::from_str(value).is_err() {
                return Err(format!("invalid value for fault header {name:?}"));
            }
        }
        Ok(())
    }

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

/// Finds the first active fault that matches, uses up one of its `times`, drops it when none
/// remain, and returns a copy of it.
pub(crate) fn take_matching(
    faults: &mut Vec<Fault>,
    tracker: Tracker,
    method: &str,
    path: &str,
) -> Option<Fault> {
    let index = faults
        .iter()
        .position(|fault| fault.matches(tracker, method, path))?;
    faults[index].times -= 1;
    let fault = faults[index].clone();
    if faults[index].times == 0 {
        faults.remove(index);
    }
    Some(fault)
}

/// Builds the response of a fault with a non-zero status. `user_id` is the GitHub id of
/// the caller, used in the default rate-limit message.
pub(crate) fn respond(fault: &Fault, tracker: Tracker, user_id: Option<&str>) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or_else(|_| {
        tracing::warn!(
            status = fault.status,
            "invalid fault status, so the response is 500"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let body = fault
        .body
        .clone()
        .or_else(|| default_body(tracker, status, user_id));
    let mut response = match (body, tracker) {
        (Some(body), Tracker::Github) => github_json(status, &body),
        (Some(body), Tracker::AzureDevops) => crate::azure_devops::json_response(status, &body),
        (Some(body), Tracker::Zendesk) => crate::zendesk::json_response(status, &body),
        (Some(body), Tracker::Jira | Tracker::JiraDc) => jira_json(status, &body),
        (Some(body), Tracker::Servicenow) => crate::servicenow::json_response(status, &body),
        (Some(body), Tracker::Salesforce | Tracker::HpAlm) => {
            crate::servicenow::json_response(status, &body)
        }
        (None, _) => status.into_response(),
    };
    for (name, value) in &fault.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().insert(name, value);
            }
            _ => tracing::warn!(header = %name, "invalid fault header skipped"),
        }
    }
    response
}

/// Error body in the tracker's shape, for statuses of 400 and above.
fn default_body(tracker: Tracker, status: StatusCode, user_id: Option<&str>) -> Option<Value> {
    if status.as_u16() < 400 {
        return None;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let rate_limited = matches!(status.as_u16(), 403 | 429);
    Some(match tracker {
        Tracker::Github => {
            let message = if rate_limited {
                format!(
                    "API rate limit exceeded for user ID {}.",
                    user_id.unwrap_or("0")
                )
            } else {
                reason.to_owned()
            };
            json!({
                "message": message,
                "documentation_url": DOCUMENTATION_URL,
                "status": status.as_u16().to_string(),
            })
        }
        Tracker::Servicenow => crate::servicenow::fault_body(status),
        Tracker::Salesforce => crate::salesforce::fault_body(status),
        Tracker::HpAlm => crate::hp_alm::fault_body(status),
        Tracker::AzureDevops => crate::azure_devops::error_body("VssServiceException", reason),
        Tracker::Zendesk => json!({"error": reason, "description": reason}),
        Tracker::Jira | Tracker::JiraDc => {
            let message = if status == StatusCode::TOO_MANY_REQUESTS {
                "Rate limit exceeded."
            } else {
                reason
            };
            json!({ "errorMessages": [message], "errors": {} })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_is_used_up_after_times() {
        let mut faults = vec![Fault {
            tracker: Some("jira".to_owned()),
            path_contains: Some("/comment".to_owned()),
            status: 503,
            times: 2,
            ..Fault::default()
        }];
        let path = "/jira/rest/api/3/issue/SUP-1/comment";
        assert!(take_matching(&mut faults, Tracker::Github, "POST", path).is_none());
        assert!(take_matching(&mut faults, Tracker::Jira, "POST", path).is_some());
        assert!(take_matching(&mut faults, Tracker::Jira, "POST", path).is_some());
        assert!(take_matching(&mut faults, Tracker::Jira, "POST", path).is_none());
        assert!(faults.is_empty());
    }

    #[test]
    fn method_filter_ignores_case() {
        let mut faults = vec![Fault {
            method: Some("patch".to_owned()),
            ..Fault::default()
        }];
        assert!(take_matching(&mut faults, Tracker::Github, "GET", "/github/user").is_none());
        assert!(take_matching(&mut faults, Tracker::Github, "PATCH", "/github/x").is_some());
    }

    #[test]
    fn validate_rejects_bad_status_and_tracker() {
        let bad_status = Fault {
            status: 42,
            ..Fault::default()
        };
        let bad_tracker = Fault {
            tracker: Some("gitlab".to_owned()),
            ..Fault::default()
        };
        assert!(bad_status.validate().is_err());
        assert!(bad_tracker.validate().is_err());
        assert!(Fault::default().validate().is_ok());
    }
}
