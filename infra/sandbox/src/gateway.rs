//! Middleware in front of the tracker routes: request logging, fault injection, authentication
//! and GitHub's rate-limit headers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::{App, RateLimitStatus};
use crate::config::{GithubUser, JiraUser};
use crate::faults;
use crate::github::auth::GithubCaller;
use crate::jira::auth::JiraCaller;
use crate::requests::RecordedRequest;
use crate::truncation;
use crate::webhooks::Tracker;

/// Outcome of authenticating a request.
enum Identity {
    Github(Result<GithubUser, crate::github::error::GithubError>),
    Jira(Result<JiraUser, crate::jira::error::JiraError>),
    AzureDevops(Result<crate::azure_devops::AzureDevopsUser, crate::azure_devops::AzureError>),
    Zendesk(Result<crate::zendesk::ZendeskUser, crate::zendesk::ZendeskError>),
    JiraDc(Result<crate::jira_dc::JiraDcUser, crate::jira::error::JiraError>),
    Servicenow(Result<Option<crate::servicenow::ServicenowUser>, crate::servicenow::SnError>),
    /// A tracker whose handlers authenticate each request themselves (Salesforce, HP ALM/QC).
    InHandler,
}

impl Identity {
    fn user_id(&self) -> Option<String> {
        match self {
            Identity::Github(Ok(user)) => Some(user.id.to_string()),
            Identity::Jira(Ok(user)) => Some(user.account_id.clone()),
            Identity::AzureDevops(Ok(user)) => Some(user.id.clone()),
            Identity::Zendesk(Ok(user)) => Some(user.id.to_string()),
            Identity::JiraDc(Ok(user)) => Some(user.key.clone()),
            Identity::Servicenow(Ok(Some(user))) => Some(user.sys_id.clone()),
            _ => None,
        }
    }

    fn token_expiration(&self) -> Option<&str> {
        match self {
            Identity::Github(Ok(user)) => user.token_expiration.as_deref(),
            _ => None,
        }
    }
}

/// Logs each `/github` and `/jira` request, applies the first matching fault, rejects bad
/// credentials in the tracker's error shape, and passes the caller to the handler as a
/// `GithubCaller` or `JiraCaller` extension. Other paths pass through untouched.
pub(crate) async fn gateway(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(tracker) = tracker_of(request.uri().path()) else {
        return next.run(request).await;
    };
    let method = request.method().as_str().to_owned();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let identity = match tracker {
        Tracker::Github => Identity::Github(crate::github::auth::authenticate(
            &app.config.github,
            request.headers(),
        )),
        Tracker::Jira => Identity::Jira(crate::jira::auth::authenticate(
            &app.config.jira,
            request.headers(),
        )),
        Tracker::AzureDevops => Identity::AzureDevops(crate::azure_devops::authenticate(
            &app.config.azure_devops,
            request.headers(),
        )),
        Tracker::Zendesk => Identity::Zendesk(crate::zendesk::authenticate(
            &app.config.zendesk,
            request.headers(),
        )),
        Tracker::JiraDc => Identity::JiraDc(crate::jira_dc::authenticate(
            &app.config.jira_dc,
            request.headers(),
        )),
        Tracker::Servicenow => Identity::Servicenow(crate::servicenow::authenticate(
            &app,
            request.uri().path(),
            request.headers(),
        )),
        Tracker::Salesforce | Tracker::HpAlm => Identity::InHandler,
    };
    let user_id = identity.user_id();
    let token_expiration = identity.token_expiration().map(str::to_owned);
    let github_scopes = match &identity {
        Identity::Github(Ok(user)) => Some(app.lock().ops.github_scopes(&user.login)),
        _ => None,
    };

    let (slot, fault, truncate, rate_limit) = {
        let mut shared = app.lock();
        let fault = faults::take_matching(&mut shared.faults, tracker, &method, &path);
        let truncate = match &fault {
            Some(fault) if fault.status != 0 => None,
            _ => truncation::take_matching(&mut shared.truncations, tracker, &method, &path),
        };
        let slot = shared.requests.start(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            tracker: tracker.as_str().to_owned(),
            user_id: user_id.clone(),
            status: 0,
            fault: fault.is_some(),
        });
        let rate_limit =
            (tracker == Tracker::Github).then(|| shared.rate_limits.count(user_id.as_deref()));
        (slot, fault, truncate, rate_limit)
    };

    if let Some(fault) = &fault {
        tracing::info!(%tracker, %method, %path, status = fault.status, delay_ms = fault.delay_ms, "injecting fault");
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
    }

    let mut response = match fault {
        Some(fault) if fault.status != 0 => faults::respond(&fault, tracker, user_id.as_deref()),
        _ => match identity {
            Identity::Github(Ok(user)) => {
                request.extensions_mut().insert(GithubCaller(user));
                next.run(request).await
            }
            Identity::Jira(Ok(user)) => {
                request.extensions_mut().insert(JiraCaller(user));
                next.run(request).await
            }
            Identity::AzureDevops(Ok(user)) => {
                request
                    .extensions_mut()
                    .insert(crate::azure_devops::AzureCaller(user));
                next.run(request).await
            }
            Identity::AzureDevops(Err(error)) => error.into_response(),
            Identity::Zendesk(Ok(user)) => {
                request
                    .extensions_mut()
                    .insert(crate::zendesk::ZendeskCaller(user));
                next.run(request).await
            }
            Identity::Zendesk(Err(error)) => error.into_response(),
            Identity::JiraDc(Ok(user)) => {
                request
                    .extensions_mut()
                    .insert(crate::jira_dc::JiraDcCaller(user));
                next.run(request).await
            }
            Identity::Servicenow(Ok(user)) => {
                if let Some(user) = user {
                    request
                        .extensions_mut()
                        .insert(crate::servicenow::SnCaller(user));
                }
                next.run(request).await
            }
            Identity::Servicenow(Err(error)) => error.into_response(),
            Identity::InHandler => next.run(request).await,
            Identity::Github(Err(error)) => error.into_response(),
            Identity::Jira(Err(error)) | Identity::JiraDc(Err(error)) => error.into_response(),
        },
    };

    if let Some(rate_limit) = rate_limit {
        add_github_headers(response.headers_mut(), rate_limit, token_expiration);
    }
    if let Some(scopes) = github_scopes
        && let Ok(value) = HeaderValue::from_str(&scopes)
    {
        response
            .headers_mut()
            .entry("x-oauth-scopes")
            .or_insert(value);
    }
    if let Some(keep) = truncate {
        tracing::info!(%tracker, %method, %path, keep, "truncating the response");
        response = truncation::cut(response, keep).await;
    }
    let status = response.status().as_u16();
    app.lock().requests.finish(slot, status);
    tracing::debug!(%tracker, %method, %path, status, "handled request");
    response
}

fn tracker_of(path: &str) -> Option<Tracker> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/github") {
        Some(Tracker::Github)
    } else if under("/jira") {
        Some(Tracker::Jira)
    } else if under("/azure-devops") {
        Some(Tracker::AzureDevops)
    } else if under("/zendesk") {
        Some(Tracker::Zendesk)
    } else if under("/jira-dc") {
        Some(Tracker::JiraDc)
    } else if under("/servicenow") {
        Some(Tracker::Servicenow)
    } else if under("/salesforce") {
        Some(Tracker::Salesforce)
    } else if under("/hp-alm") {
        Some(Tracker::HpAlm)
    } else {
        None
    }
}

/// Adds the headers GitHub sends on every response, keeping any that a fault already set.
fn add_github_headers(
    headers: &mut HeaderMap,
    rate_limit: RateLimitStatus,
    token_expiration: Option<String>,
) {
    let mut values = vec![
        ("x-ratelimit-limit", rate_limit.limit.to_string()),
        ("x-ratelimit-remaining", rate_limit.remaining.to_string()),
        ("x-ratelimit-used", rate_limit.used.to_string()),
        (
            "x-ratelimit-reset",
            rate_limit.reset_epoch_seconds.to_string(),
        ),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-github-media-type", "github.v3; format=json".to_owned()),
        ("x-github-api-version-selected", "2022-11-28".to_owned()),
    ];
    if let Some(expiration) = token_expiration {
        values.push(("github-authentication-token-expiration", expiration));
    }
    for (name, value) in values {
        let name = HeaderName::from_static(name);
        if headers.contains_key(&name) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_prefix_needs_segment_boundary() {
        assert_eq!(tracker_of("/github/user"), Some(Tracker::Github));
        assert_eq!(tracker_of("/jira"), Some(Tracker::Jira));
        assert_eq!(tracker_of("/github-web/acme/widgets"), None);
        assert_eq!(tracker_of("/_sandbox/state"), None);
    }
}
