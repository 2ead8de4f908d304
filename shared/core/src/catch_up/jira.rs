//! The Jira catch-up: searches the connected projects of a Jira Cloud or Data Center instance
//! for issues updated since the last run, oldest first, and syncs those that differ from what
//! was last synced.

use std::collections::HashSet;

use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{FIRST_LOOKBACK, InstanceRun, OVERLAP_MS, connected_projects};
use crate::error::TargetError;
use crate::http::Api;
use crate::metrics;
use crate::model::{
    Author, Change, ChangeEvent, Field, Instance, IssueContent, IssueRef, IssueState,
};
use crate::time_util::{now_ms, parse_rfc3339_ms};

/// The maximum number of issues read per Jira search page.
const JIRA_PAGE_SIZE: u32 = 50;
/// Search results that each Data Center page reads again from the previous page. An issue
/// updated while the pages are read moves to the end of the results, so the later results
/// move forward by one and `startAt` alone would skip one of them.
const DC_PAGE_OVERLAP: usize = 5;
/// The fields that the search returns for each issue.
const SEARCH_FIELDS: [&str; 6] = [
    "summary",
    "description",
    "labels",
    "status",
    "project",
    "updated",
];

/// The search API of a Jira deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Search {
    /// Jira Cloud: `POST /rest/api/3/search/jql`, paged with `nextPageToken`, descriptions
    /// in Atlassian Document Format.
    Cloud,
    /// Jira Data Center: `GET /rest/api/2/search`, paged with `startAt`, descriptions in
    /// wiki markup.
    DataCenter,
}

/// The start of the next page of search results.
enum NextPage {
    Token(String),
    StartAt(usize),
}

/// One page of search results.
struct SearchPage {
    issues: Vec<Value>,
    next: Option<NextPage>,
}

/// Searches the instance's connected projects and syncs the issues that changed.
pub(super) async fn catch_up(run: &mut InstanceRun<'_>, search: Search) -> Result<(), String> {
    let projects = connected_projects(run.config, run.instance);
    if projects.is_empty() {
        return Ok(());
    }
    let store = run.pipeline.store();
    let started = now_ms();
    let watermark = store
        .catch_up_watermark(&run.instance.id)
        .await
        .map_err(|e| e.to_string())?;
    let since = match watermark {
        Some(at) => at - OVERLAP_MS,
        None => started - FIRST_LOOKBACK.as_millis() as i64,
    };
    let api = run
        .pipeline
        .api(run.instance, run.deadline, false)
        .await
        .map_err(|e| e.to_string())?;
    let jql = search_jql(search, &api, &projects, since, started)
        .await
        .map_err(|e| e.to_string())?;

    let mut next: Option<NextPage> = None;
    let mut handled: HashSet<(String, i64)> = HashSet::new();
    let mut last_handled_ms: Option<i64> = None;
    let finished = 'pages: loop {
        if !run.may_read_page() {
            break 'pages false;
        }
        let page = search_page(search, &api, &jql, next.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        run.pages_left = run.pages_left.saturating_sub(1);
        for issue in &page.issues {
            if !run.may_start_call() {
                break 'pages false;
            }
            let Some(event) = jira_event(run.instance, &api, issue) else {
                warn!("catch-up skipped a Jira search result without id, key or project");
                continue;
            };
            if !handled.insert((event.issue.id.clone(), event.at_ms)) {
                continue;
            }
            let at_ms = event.at_ms;
            sync_if_changed(run, event).await?;
            last_handled_ms = Some(last_handled_ms.map_or(at_ms, |last| last.max(at_ms)));
        }
        match page.next {
            Some(page) => next = Some(page),
            None => break 'pages true,
        }
    };

    let new_watermark = if finished {
        Some(started)
    } else {
        run.budget_exhausted("issues updated after the last one handled");
        // The results come oldest first, so every issue updated before the last one handled
        // was handled. The overlap of the next run reads the ones updated at the same time.
        // NOTE: the next run starts one overlap before this time. When more issues than one
        // budget changed within the overlap, every run reads the same ones and stops again.
        last_handled_ms
            .map(|at| at.min(started))
            .filter(|at| watermark.is_none_or(|previous| *at > previous))
    };
    match new_watermark {
        Some(at) => store
            .set_catch_up_watermark(&run.instance.id, at)
            .await
            .map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// Builds the search query: the connected projects, updated at or after `since_ms`, oldest
/// first.
async fn search_jql(
    search: Search,
    api: &Api,
    projects: &[String],
    since_ms: i64,
    now: i64,
) -> Result<String, TargetError> {
    // A relative time keeps the query independent of the proxy user's time zone, which Jira
    // applies to absolute dates in JQL.
    let minutes = (now - since_ms).max(0) / 60_000 + 1;
    let relative = format!("-{minutes}m");
    let since = match search {
        Search::Cloud => relative,
        Search::DataCenter => match user_time_zone(api).await? {
            Some(zone) => jql_date(since_ms, &zone).unwrap_or(relative),
            None => relative,
        },
    };
    let quoted: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
    Ok(format!(
        "project in ({}) AND updated >= {since} ORDER BY updated ASC",
        quoted.join(", ")
    ))
}

/// Reads the proxy user's time zone from `GET /rest/api/2/myself`, or `None` when Jira names
/// none or one that the time zone database does not know.
async fn user_time_zone(api: &Api) -> Result<Option<jiff::tz::TimeZone>, TargetError> {
    let me = api.get("/rest/api/2/myself").await?;
    let Some(name) = me.get("timeZone").and_then(Value::as_str) else {
        warn!("Jira names no time zone for the proxy user; the search uses a relative time");
        return Ok(None);
    };
    match jiff::tz::TimeZone::get(name) {
        Ok(zone) => Ok(Some(zone)),
        Err(error) => {
            warn!(time_zone = name, error = %error, "unknown time zone of the proxy user; the search uses a relative time");
            Ok(None)
        }
    }
}

/// Formats `since_ms` as a JQL date (`"yyyy/MM/dd HH:mm"`) in `zone`, rounded down to the
/// minute. A local time that occurs twice, when clocks go back, could mean the later instant,
/// so it is moved an hour earlier.
fn jql_date(since_ms: i64, zone: &jiff::tz::TimeZone) -> Option<String> {
    let mut at = jiff::Timestamp::from_millisecond(since_ms)
        .ok()?
        .to_zoned_datetime(zone.clone());
    if zone.to_ambiguous_timestamp(at.datetime()).is_ambiguous() {
        at = at.checked_sub(jiff::SignedDuration::from_hours(1)).ok()?;
    }
    Some(format!("\"{}\"", at.strftime("%Y/%m/%d %H:%M")))
}

/// Reads one page of search results.
async fn search_page(
    search: Search,
    api: &Api,
    jql: &str,
    next: Option<&NextPage>,
) -> Result<SearchPage, TargetError> {
    match search {
        Search::Cloud => {
            let mut request = json!({
                "jql": jql,
                "fields": SEARCH_FIELDS,
                "maxResults": JIRA_PAGE_SIZE,
            });
            if let Some(NextPage::Token(token)) = next {
                request["nextPageToken"] = json!(token);
            }
            let page = api.post("/rest/api/3/search/jql", &request).await?;
            let token = page
                .get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let last = page.get("isLast").and_then(Value::as_bool).unwrap_or(true);
            Ok(SearchPage {
                issues: issues_of(&page),
                next: token.filter(|_| !last).map(NextPage::Token),
            })
        }
        Search::DataCenter => {
            let start = match next {
                Some(NextPage::StartAt(start)) => *start,
                _ => 0,
            };
            let path = format!(
                "/rest/api/2/search?jql={}&startAt={start}&maxResults={JIRA_PAGE_SIZE}&fields={}",
                urlencoding::encode(jql),
                SEARCH_FIELDS.join(",")
            );
            let page = api.get(&path).await?;
            let issues = issues_of(&page);
            let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let read = issues.len();
            let next = (read > 0 && start + read < total).then(|| {
                let step = if read > DC_PAGE_OVERLAP {
                    read - DC_PAGE_OVERLAP
                } else {
                    read
                };
                NextPage::StartAt(start + step)
            });
            Ok(SearchPage { issues, next })
        }
    }
}

fn issues_of(page: &Value) -> Vec<Value> {
    page.get("issues")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Syncs `event` unless the peer of every connection already has its content.
async fn sync_if_changed(run: &mut InstanceRun<'_>, mut event: ChangeEvent) -> Result<(), String> {
    let pipeline = run.pipeline;
    let instance = run.instance;
    let mut linked = false;
    let mut differs = false;
    for connection in &run.config.connections {
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
        run.report.in_sync += 1;
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
    let deadline: Instant = run.deadline;
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
        run.report.synced += 1;
    } else {
        run.report.in_sync += 1;
    }
    Ok(())
}

/// Builds the change event of a Jira search result (REST v3 with an ADF description, or REST
/// v2 with wiki markup) as an issue creation. The caller turns it into an update when the
/// issue is linked.
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
        // The search does not return who changed the issue. An empty id never matches the proxy
        // user, so the fingerprint check above is what drops the proxy user's own writes.
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
    fn jira_time_without_colon() {
        let ms = jira_time_ms("2026-12-04T16:20:00.000+0000").unwrap();
        assert_eq!(ms, parse_rfc3339_ms("2026-12-04T16:20:00Z").unwrap());
    }

    #[test]
    fn jql_date_in_user_zone() {
        let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // 16:20:59 UTC in December is 17:20 in Berlin (UTC+1), rounded down to the minute.
        let since = parse_rfc3339_ms("2026-12-04T16:20:59Z").unwrap();
        assert_eq!(jql_date(since, &zone).unwrap(), "\"2026/12/04 17:20\"");
        let summer = parse_rfc3339_ms("2026-07-01T08:00:00Z").unwrap();
        assert_eq!(jql_date(summer, &zone).unwrap(), "\"2026/07/01 10:00\"");
    }

    #[test]
    fn jql_date_before_repeated_hour() {
        let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // On 2026-10-25 Berlin's clocks go back from 03:00 to 02:00, so 02:30 occurs twice.
        // 00:30 UTC is the first 02:30, which Jira could read as the second, an hour later.
        let first = parse_rfc3339_ms("2026-10-25T00:30:00Z").unwrap();
        assert_eq!(jql_date(first, &zone).unwrap(), "\"2026/10/25 01:30\"");
    }
}
