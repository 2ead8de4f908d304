//! Catch-up: finds the changes that a tracker failed to deliver.
//!
//! GitHub never redelivers a failed webhook by itself, so for each hook that
//! the instance options name (`hook_id`, or `hooks`), the catch-up lists the
//! hook's recent deliveries and asks GitHub to redeliver those that never got
//! a 2xx answer and that proxysync never claimed. Jira retries, but not
//! forever, so the catch-up searches the connected Jira projects for issues
//! updated since the last run and syncs those whose content differs from what
//! was last synced. Every change found this way counts in the
//! `CatchUpFound` metric.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use crate::config::Config;
use crate::doctor::{CONNECTED_PROJECTS, github_hooks};
use crate::error::StoreError;
use crate::http::Api;
use crate::metrics;
use crate::model::{
    Author, Change, ChangeEvent, Field, Instance, IssueContent, IssueRef, IssueState, TrackerKind,
};
use crate::pipeline::Pipeline;
use crate::time_util::{now_ms, parse_rfc3339_ms};

/// How far back the first run of an instance looks.
pub const FIRST_LOOKBACK: Duration = Duration::from_secs(3600);
/// How much each run overlaps the previous one, for clock skew and late indexing.
const OVERLAP_MS: i64 = 5 * 60 * 1000;
/// GitHub deliveries of one event are redelivered at most this many times.
const MAX_DELIVERY_ATTEMPTS: usize = 4;
/// How long the calls for one instance may take.
const INSTANCE_BUDGET: Duration = Duration::from_secs(20);
/// The most issues read per Jira search page.
const JIRA_PAGE_SIZE: u32 = 50;

/// What one catch-up run found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// GitHub deliveries that GitHub was asked to send again.
    pub redelivered: usize,
    /// Jira issues whose changes were synced.
    pub synced: usize,
    /// Jira issues read that were already in sync.
    pub in_sync: usize,
    /// Instances whose catch-up failed, with the error.
    pub failures: Vec<String>,
}

/// Runs a catch-up over every instance, starting no instance after `stop_at`.
///
/// # Errors
/// A DynamoDB failure while reading the configuration; a failure of one instance is
/// reported in [`CatchUpReport::failures`] and the others still run.
pub async fn run(pipeline: &Pipeline, stop_at: Instant) -> Result<CatchUpReport, StoreError> {
    let config = pipeline.config(true).await?;
    let mut report = CatchUpReport::default();
    for instance in &config.instances {
        if Instant::now() + INSTANCE_BUDGET > stop_at {
            warn!(
                instance = %instance.id,
                "catch-up ran out of time; the remaining instances wait for the next run"
            );
            break;
        }
        let span = tracing::info_span!("catch_up", tracker = instance.tracker.route(), instance = %instance.id);
        async {
            let result = match instance.tracker {
                TrackerKind::Github => {
                    Box::pin(github(pipeline, &config, instance, &mut report)).await
                }
                TrackerKind::JiraCloud => {
                    Box::pin(jira(
                        pipeline,
                        &config,
                        instance,
                        "/rest/api/3",
                        &mut report,
                    ))
                    .await
                }
                _ => Ok(()),
            };
            if let Err(error) = result {
                warn!(error = %error, "catch-up of the instance failed");
                report.failures.push(format!("{}: {error}", instance.id));
            }
        }
        .instrument(span)
        .await;
    }
    info!(
        redelivered = report.redelivered,
        synced = report.synced,
        in_sync = report.in_sync,
        failures = report.failures.len(),
        "catch-up run finished"
    );
    Ok(report)
}

fn connected_projects(config: &Config, instance: &Instance) -> Vec<String> {
    let mut projects: Vec<String> = config
        .connections
        .iter()
        .flat_map(|c| [&c.a, &c.b])
        .filter(|endpoint| endpoint.instance == instance.id)
        .map(|endpoint| endpoint.project.clone())
        .collect();
    projects.sort();
    projects.dedup();
    projects
}

/// The time this run looks back to: the last watermark less an overlap, or the first lookback.
async fn since_ms(pipeline: &Pipeline, instance: &Instance, now: i64) -> Result<i64, String> {
    let watermark = pipeline
        .store()
        .catch_up_watermark(&instance.id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match watermark {
        Some(at) => at - OVERLAP_MS,
        None => now - FIRST_LOOKBACK.as_millis() as i64,
    })
}

async fn github(
    pipeline: &Pipeline,
    config: &Config,
    instance: &Instance,
    report: &mut CatchUpReport,
) -> Result<(), String> {
    let mut with_projects = instance.clone();
    with_projects.options.insert(
        CONNECTED_PROJECTS.to_owned(),
        json!(connected_projects(config, instance)),
    );
    let hooks = github_hooks(&with_projects);
    if hooks.is_empty() {
        return Ok(());
    }
    let started = now_ms();
    let since = since_ms(pipeline, instance, started).await?;
    let api = pipeline
        .api(instance, Instant::now() + INSTANCE_BUDGET, false)
        .await
        .map_err(|e| e.to_string())?;

    for (repo, hook_id) in hooks {
        let base = format!("/repos/{repo}/hooks/{hook_id}/deliveries");
        // NOTE: only the newest page of 100 deliveries is read; a hook busier than that between
        // two runs loses the older failures to this catch-up.
        let listed = api
            .get(&format!("{base}?per_page=100"))
            .await
            .map_err(|e| e.to_string())?;
        for delivery_id in failed_deliveries(&listed, since) {
            let (id, guid) = delivery_id;
            let seen = pipeline
                .store()
                .delivery_seen(&instance.id, &guid)
                .await
                .map_err(|e| e.to_string())?;
            if seen {
                continue;
            }
            api.post(&format!("{base}/{id}/attempts"), &json!({}))
                .await
                .map_err(|e| e.to_string())?;
            info!(repo = %repo, hook = %hook_id, delivery = %guid, "asked GitHub to redeliver a failed webhook");
            metrics::count(instance.tracker.route(), metrics::CATCH_UP_FOUND, 1);
            report.redelivered += 1;
        }
    }
    pipeline
        .store()
        .set_catch_up_watermark(&instance.id, started)
        .await
        .map_err(|e| e.to_string())
}

/// Picks the deliveries to redeliver from a page of GitHub's hook deliveries: for each event
/// (`guid`) with an attempt since `since_ms`, none of whose attempts got a 2xx answer, the
/// newest attempt's (id, guid). Events redelivered often already are left alone.
pub fn failed_deliveries(listed: &Value, since_ms: i64) -> Vec<(String, String)> {
    let mut by_guid: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for delivery in listed.as_array().into_iter().flatten() {
        let Some(guid) = delivery.get("guid").and_then(Value::as_str) else {
            continue;
        };
        by_guid.entry(guid.to_owned()).or_default().push(delivery);
    }

    let mut picked = Vec::new();
    for (guid, attempts) in by_guid {
        let synced_event = attempts.iter().all(|attempt| {
            matches!(
                attempt.get("event").and_then(Value::as_str),
                Some("issues" | "issue_comment")
            )
        });
        let succeeded = attempts.iter().any(|attempt| {
            attempt
                .get("status_code")
                .and_then(Value::as_u64)
                .is_some_and(|code| (200..300).contains(&code))
        });
        let delivered_ms = |attempt: &Value| {
            attempt
                .get("delivered_at")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339_ms)
                .unwrap_or(0)
        };
        let Some(newest) = attempts.iter().copied().max_by_key(|a| delivered_ms(a)) else {
            continue;
        };
        let recent = delivered_ms(newest) >= since_ms;
        if !synced_event || succeeded || !recent || attempts.len() >= MAX_DELIVERY_ATTEMPTS {
            continue;
        }
        let id = match newest.get("id") {
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::String(text)) => text.clone(),
            _ => continue,
        };
        picked.push((id, guid));
    }
    picked
}

async fn jira(
    pipeline: &Pipeline,
    config: &Config,
    instance: &Instance,
    rest: &str,
    report: &mut CatchUpReport,
) -> Result<(), String> {
    let projects = connected_projects(config, instance);
    if projects.is_empty() {
        return Ok(());
    }
    let started = now_ms();
    let since = since_ms(pipeline, instance, started).await?;
    let deadline = Instant::now() + INSTANCE_BUDGET;
    let api = pipeline
        .api(instance, deadline, false)
        .await
        .map_err(|e| e.to_string())?;

    // A relative time keeps the query independent of the proxy user's time zone, which Jira
    // applies to absolute dates in JQL.
    let minutes = (started - since).max(0) / 60_000 + 1;
    let quoted: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
    let jql = format!(
        "project in ({}) AND updated >= -{minutes}m ORDER BY updated ASC",
        quoted.join(", ")
    );
    let mut page_token: Option<String> = None;
    loop {
        let mut request = json!({
            "jql": jql,
            "fields": ["summary", "description", "labels", "status", "project", "updated"],
            "maxResults": JIRA_PAGE_SIZE,
        });
        if let Some(token) = &page_token {
            request["nextPageToken"] = json!(token);
        }
        let page = api
            .post(&format!("{rest}/search/jql"), &request)
            .await
            .map_err(|e| e.to_string())?;
        for issue in page
            .get("issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(event) = jira_event(instance, &api, issue) else {
                warn!("catch-up skipped a Jira search result without id, key or project");
                continue;
            };
            sync_if_changed(pipeline, config, instance, event, deadline, report).await?;
        }
        page_token = page
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let last = page.get("isLast").and_then(Value::as_bool).unwrap_or(true);
        if page_token.is_none() || last {
            break;
        }
    }
    pipeline
        .store()
        .set_catch_up_watermark(&instance.id, started)
        .await
        .map_err(|e| e.to_string())
}

/// Syncs `event` unless every connection already holds its content.
async fn sync_if_changed(
    pipeline: &Pipeline,
    config: &Config,
    instance: &Instance,
    mut event: ChangeEvent,
    deadline: Instant,
    report: &mut CatchUpReport,
) -> Result<(), String> {
    let mut linked = false;
    let mut differs = false;
    for connection in &config.connections {
        if connection.route(&instance.id, &event.project).is_none() {
            continue;
        }
        let link = pipeline
            .store()
            .get_link(&instance.id, &event.issue.id, &connection.id)
            .await
            .map_err(|e| e.to_string())?;
        match link {
            Some(link) if link.peer.is_some() => {
                linked = true;
                let fingerprint = crate::sync::fingerprint(&event.content);
                // The content is in sync when proxysync wrote it onto this issue, or wrote it
                // onto the peer, whose link keeps the fingerprint of what it received.
                let written_here = link.echo.as_deref() == Some(fingerprint.as_str());
                let peer = link.peer.as_ref().expect("matched on a peer");
                let peer_link = pipeline
                    .store()
                    .get_link(&link.peer_instance, &peer.id, &connection.id)
                    .await
                    .map_err(|e| e.to_string())?;
                let written_there = peer_link.is_some_and(|peer_link| {
                    peer_link.echo.as_deref() == Some(fingerprint.as_str())
                });
                if !written_here && !written_there && event.at_ms > link.applied_at_ms {
                    differs = true;
                }
            }
            _ => differs = true,
        }
    }
    if !differs {
        report.in_sync += 1;
        return Ok(());
    }
    if linked {
        event.change = Change::IssueUpdated {
            fields: vec![Field::Title, Field::Body, Field::State, Field::Labels],
            labels_added: event.content.labels.clone(),
            labels_removed: Vec::new(),
        };
    }

    let batch = format!("catch-up-{}-{}", event.issue.id, event.at_ms);
    // Boxed, because the sync future nests deeply enough to break the compiler's layout limit.
    let answer = Box::pin(pipeline.sync_polled(
        &instance.id,
        std::slice::from_ref(&event),
        &batch,
        deadline,
    ))
    .await;
    let synced = answer.body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|outcome| outcome["decision"] == "synced" || outcome["decision"] == "parked");
    if synced {
        info!(issue = %event.issue.key, "catch-up found a change that was never synced");
        metrics::count(instance.tracker.route(), metrics::CATCH_UP_FOUND, 1);
        report.synced += 1;
    } else {
        report.in_sync += 1;
    }
    Ok(())
}

/// Builds the change event of a Jira REST v3 search result, as an issue creation; the caller
/// turns it into an update when the issue is linked.
fn jira_event(instance: &Instance, api: &Api, issue: &Value) -> Option<ChangeEvent> {
    let id = issue.get("id").and_then(Value::as_str)?;
    let key = issue.get("key").and_then(Value::as_str)?;
    let fields = issue.get("fields")?;
    let project = fields.pointer("/project/key").and_then(Value::as_str)?;
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let body = match fields.get("description") {
        Some(doc @ Value::Object(_)) => proxysync_formats::adf_to_markdown(doc),
        Some(Value::String(wiki)) => proxysync_formats::wiki_to_markdown(wiki),
        _ => String::new(),
    };
    let closed = fields
        .pointer("/status/statusCategory/key")
        .and_then(Value::as_str)
        == Some("done");
    let labels = fields
        .get("labels")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(ChangeEvent {
        kind: "catch_up".to_owned(),
        tracker: instance.tracker,
        instance: instance.id.clone(),
        project: project.to_owned(),
        issue: IssueRef {
            key: key.to_owned(),
            id: id.to_owned(),
            url: format!("{}/browse/{key}", api.base_url()),
        },
        content: IssueContent {
            title: text("summary"),
            body,
            state: if closed {
                IssueState::Closed
            } else {
                IssueState::Open
            },
            labels,
        },
        // The search does not say who changed the issue; an empty id never matches the proxy
        // user, and the fingerprint check above drops the proxy user's own writes.
        author: Author {
            id: String::new(),
            name: "catch-up".to_owned(),
        },
        at_ms: jira_time_ms(&text("updated")).unwrap_or_else(now_ms),
        change: Change::IssueCreated,
    })
}

/// Parses Jira's `2026-12-04T16:20:00.000+0000` timestamps, whose offset has no colon.
fn jira_time_ms(value: &str) -> Option<i64> {
    parse_rfc3339_ms(value).or_else(|| {
        let (head, offset) = value.split_at(value.len().checked_sub(5)?);
        let fixed = format!("{head}{}:{}", &offset[..3], &offset[3..]);
        parse_rfc3339_ms(&fixed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_deliveries_skip_successes() {
        let listed = json!([
            {"id": 3, "guid": "b", "delivered_at": "2030-01-01T00:02:00Z", "status_code": 200, "event": "issues"},
            {"id": 2, "guid": "b", "delivered_at": "2030-01-01T00:01:00Z", "status_code": 502, "event": "issues"},
            {"id": 1, "guid": "a", "delivered_at": "2030-01-01T00:00:00Z", "status_code": 0, "event": "issue_comment"},
            {"id": 4, "guid": "c", "delivered_at": "2030-01-01T00:00:00Z", "status_code": 500, "event": "push"},
        ]);
        let picked = failed_deliveries(&listed, 0);
        assert_eq!(picked, vec![("1".to_owned(), "a".to_owned())]);
    }

    #[test]
    fn failed_deliveries_pick_newest_attempt() {
        let listed = json!([
            {"id": 7, "guid": "a", "delivered_at": "2030-01-01T00:05:00Z", "status_code": 500, "event": "issues"},
            {"id": 6, "guid": "a", "delivered_at": "2030-01-01T00:00:00Z", "status_code": 500, "event": "issues"},
        ]);
        assert_eq!(
            failed_deliveries(&listed, 0),
            vec![("7".to_owned(), "a".to_owned())]
        );
    }

    #[test]
    fn failed_deliveries_respect_since() {
        let listed = json!([
            {"id": 1, "guid": "a", "delivered_at": "2020-01-01T00:00:00Z", "status_code": 500, "event": "issues"},
        ]);
        assert!(failed_deliveries(&listed, now_ms()).is_empty());
    }

    #[test]
    fn failed_deliveries_stop_after_attempts() {
        let attempts: Vec<Value> = (0..MAX_DELIVERY_ATTEMPTS)
            .map(|i| json!({"id": i, "guid": "a", "delivered_at": "2030-01-01T00:00:00Z", "status_code": 500, "event": "issues"}))
            .collect();
        assert!(failed_deliveries(&json!(attempts), 0).is_empty());
    }

    #[test]
    fn jira_time_without_colon() {
        let ms = jira_time_ms("2026-12-04T16:20:00.000+0000").unwrap();
        assert_eq!(ms, parse_rfc3339_ms("2026-12-04T16:20:00Z").unwrap());
    }
}
