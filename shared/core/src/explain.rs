//! `proxysync explain`: steps 2 to 6 of the webhook path as a dry run that writes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::Config;
use crate::http::{Api, ApiTarget, PlannedRequest, RequestLog};
use crate::model::{Change, ChangeEvent, Instance};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::sync::{self, Applied, ApplyContext};
use crate::tracker::{Auth, InboundRequest};
use crate::trackers;

/// The result of checking the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureCheck {
    Valid,
    Invalid,
    NotChecked,
}

/// What proxysync would do with one change event.
#[derive(Clone, Debug, Serialize)]
pub struct EventPlan {
    pub kind: String,
    pub issue: String,
    pub author: String,
    pub authored_by_proxy: bool,
    /// `sync` or `skip`.
    pub decision: String,
    pub reason: String,
    pub connections: Vec<String>,
    pub requests: Vec<PlannedRequest>,
}

/// The whole explanation of one webhook.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub signature: SignatureCheck,
    /// Why the signature is invalid or was not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_detail: Option<String>,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// What the dry run cannot know, so its plan may differ from the function's.
    pub warnings: Vec<String>,
    pub events: Vec<EventPlan>,
}

/// Parses a headers file of `Name: value` lines, as `curl -D` writes them.
pub fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| !line.starts_with("HTTP/"))
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .filter(|(name, _)| !name.is_empty() && !name.contains(' '))
        .collect()
}

/// Where `explain` reads state from: links come from DynamoDB when a store is given.
pub struct ExplainContext<'a> {
    pub config: &'a Config,
    pub secrets: &'a Secrets,
    pub store: Option<&'a Store>,
    pub http: reqwest::Client,
}

/// Explains what the webhook `request` to `route`/`instance_id` would cause.
///
/// # Errors
/// A message naming an unknown instance or route, or a body that does not parse.
pub async fn explain(
    cx: &ExplainContext<'_>,
    route: &str,
    instance_id: &str,
    request: &InboundRequest,
) -> Result<Explanation, String> {
    let instance = cx.config.instance(instance_id).ok_or_else(|| {
        format!("unknown instance {instance_id:?}: it is not in the configuration")
    })?;
    if instance.tracker.route() != route {
        return Err(format!(
            "instance {instance_id:?} is a {} instance, not a {route} one",
            instance.tracker
        ));
    }
    let module = trackers::module(instance.tracker).ok_or_else(|| {
        format!(
            "tracker {} is not supported by this build",
            instance.tracker
        )
    })?;

    let (signature, signature_detail) = check_signature(cx, instance, request).await;
    let parsed = module
        .source()
        .parse_for(instance, request)
        .map_err(|e| e.to_string())?;

    let mut warnings = Vec::new();
    if instance.proxy.is_none() {
        warnings.push(format!(
            "instance {instance_id} has no proxy identity, so the function answers 500 until `proxysync instance add` runs for it"
        ));
    }
    if cx.store.is_none() {
        warnings.push("no link data without DynamoDB: every issue counts as unlinked".to_owned());
    }

    let mut events = Vec::new();
    for event in &parsed.events {
        let mut plan = plan_event(cx, instance, event).await?;
        if signature == SignatureCheck::Invalid {
            plan.decision = "reject".to_owned();
            plan.reason = "the function answers 401 because the signature is invalid".to_owned();
            plan.requests.clear();
        }
        events.push(plan);
    }
    Ok(Explanation {
        signature,
        signature_detail,
        event: parsed.event_name,
        ignored: parsed.ignored,
        warnings,
        events,
    })
}

async fn check_signature(
    cx: &ExplainContext<'_>,
    instance: &Instance,
    request: &InboundRequest,
) -> (SignatureCheck, Option<String>) {
    let module = trackers::module(instance.tracker).expect("checked by the caller");
    if !cx.secrets.has(&instance.secret) {
        return (
            SignatureCheck::NotChecked,
            Some(format!("no value for secret {} at hand", instance.secret)),
        );
    }
    let credentials = match cx.secrets.get(instance, false).await {
        Ok(credentials) => credentials,
        Err(error) => return (SignatureCheck::NotChecked, Some(error.to_string())),
    };
    let Some(secret) = credentials.webhook_secret.as_ref() else {
        return (
            SignatureCheck::NotChecked,
            Some(format!("secret {} has no webhook_secret", instance.secret)),
        );
    };
    match module.source().verify_for(instance, request, secret) {
        Ok(()) => (SignatureCheck::Valid, None),
        Err(rejection) => (SignatureCheck::Invalid, Some(rejection.to_string())),
    }
}

async fn plan_event(
    cx: &ExplainContext<'_>,
    instance: &Instance,
    event: &ChangeEvent,
) -> Result<EventPlan, String> {
    let authored_by_proxy = instance
        .proxy
        .as_ref()
        .is_some_and(|proxy| proxy.id == event.author.id);
    let mut plan = EventPlan {
        kind: event.kind.clone(),
        issue: event.issue.key.clone(),
        author: format!("{} ({})", event.author.name, event.author.id),
        authored_by_proxy,
        decision: "skip".to_owned(),
        reason: String::new(),
        connections: Vec::new(),
        requests: Vec::new(),
    };
    let routes = match sync::route(cx.config, instance, event) {
        Ok(routes) => routes,
        Err(reason) => {
            plan.reason = reason.describe().to_owned();
            return Ok(plan);
        }
    };

    let mut reasons = Vec::new();
    for route in &routes {
        let log: RequestLog = Arc::new(Mutex::new(Vec::new()));
        let module = trackers::module(route.target_instance.tracker).ok_or_else(|| {
            format!(
                "tracker {} is not supported by this build",
                route.target_instance.tracker
            )
        })?;
        let target = ApiTarget {
            tracker: route.target_instance.tracker,
            instance: &route.target_instance.id,
            base_url: &route.target_instance.base_url,
            module,
        };
        let never_sent = Auth::Bearer(SecretString::from("dry-run"));
        let deadline = Instant::now() + Duration::from_secs(1);
        let api = Api::new(cx.http.clone(), target, never_sent, deadline).into_dry_run(log.clone());

        let (peer, peer_comment) = read_link(cx, event, &route.connection.id).await?;
        let apply = ApplyContext {
            event,
            route,
            module,
            api: &api,
            peer: peer.as_ref(),
            peer_comment: peer_comment.as_deref(),
        };
        let applied = sync::apply(&apply).await.map_err(|e| e.to_string())?;
        let reason = match &applied {
            Applied::Skipped(reason) => reason.describe().to_owned(),
            Applied::Created(created) => {
                sync::link_both(event, created, module, &api, None)
                    .await
                    .map_err(|e| e.to_string())?;
                format!(
                    "no linked issue yet: create one in {}",
                    route.target.project
                )
            }
            _ => format!(
                "update the linked issue {}",
                peer.as_ref().map(|p| p.key.as_str()).unwrap_or("?")
            ),
        };
        if !matches!(applied, Applied::Skipped(_)) {
            plan.decision = "sync".to_owned();
        }
        reasons.push(format!("{}: {reason}", route.connection.id));
        plan.connections.push(route.connection.id.clone());
        plan.requests
            .extend(log.lock().expect("request log lock poisoned").drain(..));
    }
    plan.reason = reasons.join("; ");
    Ok(plan)
}

async fn read_link(
    cx: &ExplainContext<'_>,
    event: &ChangeEvent,
    connection: &str,
) -> Result<(Option<crate::model::IssueRef>, Option<String>), String> {
    let Some(store) = cx.store else {
        return Ok((None, None));
    };
    let link = store
        .get_link(&event.instance, &event.issue.id, connection)
        .await
        .map_err(|e| e.to_string())?;
    let peer = link.and_then(|link| link.peer);
    let comment_id = match &event.change {
        Change::CommentUpdated { comment } => Some(comment.id.as_str()),
        Change::CommentDeleted { comment_id } => Some(comment_id.as_str()),
        _ => None,
    };
    let peer_comment = match (comment_id, &peer) {
        (Some(id), Some(_)) => store
            .get_comment(&event.instance, &event.issue.id, connection, id)
            .await
            .map_err(|e| e.to_string())?,
        _ => None,
    };
    Ok((peer, peer_comment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_file_like_curl() {
        let text = "HTTP/1.1 200 OK\r\nX-GitHub-Event: issues\r\nX-Hub-Signature-256: sha256=ab:cd\r\n\r\n";
        let headers = parse_headers(text);
        assert_eq!(
            headers[0],
            ("x-github-event".to_owned(), "issues".to_owned())
        );
        assert_eq!(headers[1].1, "sha256=ab:cd");
        assert_eq!(headers.len(), 2);
    }
}
