//! The GitHub catch-up: redelivers the failed deliveries of each repository hook.
//!
//! `GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries` lists delivery attempts newest
//! first, at most 100 a page, and names the next page in a `Link: <...>; rel="next"` header
//! whose URL carries an opaque `cursor`. A pass reads pages until one reaches back past the
//! time it looks back to, then redelivers the newest pages' failures first. A pass that runs
//! out of budget returns the cursor to resume from, and the hook's state keeps it as its
//! backlog. The next run reads the backlog before it reads the newer deliveries.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use tracing::{info, warn};

use super::{FIRST_LOOKBACK, InstanceRun, OVERLAP_MS, connected_projects};
use crate::doctor::{CONNECTED_PROJECTS, github_hooks};
use crate::http::{Api, next_link};
use crate::metrics;
use crate::store::{DeliveryBacklog, HookCatchUp};
use crate::time_util::{now_ms, parse_rfc3339_ms};

/// GitHub deliveries of one event are redelivered at most this many times.
const MAX_DELIVERY_ATTEMPTS: usize = 4;
/// The maximum number of deliveries GitHub lists per page.
const DELIVERIES_PER_PAGE: usize = 100;

/// One repository hook of the instance.
struct Hook {
    repo: String,
    id: String,
}

impl Hook {
    /// Returns the key of the hook's catch-up state.
    fn key(&self) -> String {
        format!("{}#{}", self.repo, self.id)
    }

    fn deliveries_path(&self) -> String {
        format!("/repos/{}/hooks/{}/deliveries", self.repo, self.id)
    }
}

/// The end of a pass over a hook's deliveries.
enum PassEnd {
    /// Every delivery back to the pass's start time was read and handled.
    Done,
    /// The budget ran out; the next pass resumes at this cursor (`None`: the newest page).
    Cut { resume: Option<String> },
}

/// One page of deliveries and the cursor it was read with.
struct Page {
    cursor: Option<String>,
    deliveries: Vec<Value>,
}

/// Redelivers the failed deliveries of every hook named in the instance options.
pub(super) async fn catch_up(run: &mut InstanceRun<'_>) -> Result<(), String> {
    let mut with_projects = run.instance.clone();
    with_projects.options.insert(
        CONNECTED_PROJECTS.to_owned(),
        json!(connected_projects(run.config, run.instance)),
    );
    let hooks = github_hooks(&with_projects);
    if hooks.is_empty() {
        return Ok(());
    }
    let api = run
        .pipeline
        .api(run.instance, run.deadline, false)
        .await
        .map_err(|e| e.to_string())?;
    for (repo, id) in hooks {
        catch_up_hook(run, &api, &Hook { repo, id }).await?;
    }
    Ok(())
}

/// Reads the hook's backlog, if any, and then its deliveries since the previous run, and stores
/// where it stopped.
async fn catch_up_hook(run: &mut InstanceRun<'_>, api: &Api, hook: &Hook) -> Result<(), String> {
    let store = run.pipeline.store();
    let instance = &run.instance.id;
    let started = now_ms();
    let stored = store
        .hook_catch_up(instance, &hook.key())
        .await
        .map_err(|e| e.to_string())?;
    let since = match &stored {
        Some(state) => state.at_ms - OVERLAP_MS,
        None => started - FIRST_LOOKBACK.as_millis() as i64,
    };
    let mut state = stored.unwrap_or(HookCatchUp {
        at_ms: started,
        backlog: None,
    });
    // The backlog and the newer deliveries overlap, and GitHub lists a redelivery only once the
    // receiver responded, so the second pass would see the first pass's redeliveries as failed.
    let mut redelivered = HashSet::new();

    if let Some(backlog) = state.backlog.take() {
        let pass = Pass {
            cursor: backlog.cursor,
            since_ms: backlog.since_ms,
        };
        match redeliver_pass(run, api, hook, pass, &mut redelivered).await? {
            PassEnd::Done => {}
            PassEnd::Cut { resume } => {
                run.budget_exhausted(&format!("older deliveries of hook {}", hook.key()));
                state.backlog = Some(DeliveryBacklog {
                    cursor: resume,
                    since_ms: backlog.since_ms,
                });
                // The newer deliveries wait too, so the watermark stays where it was.
                return store
                    .set_hook_catch_up(instance, &hook.key(), &state)
                    .await
                    .map_err(|e| e.to_string());
            }
        }
    }

    let pass = Pass {
        cursor: None,
        since_ms: since,
    };
    if let PassEnd::Cut { resume } = redeliver_pass(run, api, hook, pass, &mut redelivered).await? {
        run.budget_exhausted(&format!("deliveries of hook {}", hook.key()));
        state.backlog = Some(DeliveryBacklog {
            cursor: resume,
            since_ms: since,
        });
    }
    state.at_ms = started;
    store
        .set_hook_catch_up(instance, &hook.key(), &state)
        .await
        .map_err(|e| e.to_string())
}

/// The deliveries that one pass reads: from a cursor (the newest page without one) back to a
/// time.
struct Pass {
    cursor: Option<String>,
    since_ms: i64,
}

/// Reads the hook's deliveries of `pass`, or as many as the budget allows, and redelivers the
/// failed ones that are not in `redelivered`, adding their guids to it.
async fn redeliver_pass(
    run: &mut InstanceRun<'_>,
    api: &Api,
    hook: &Hook,
    pass: Pass,
    redelivered: &mut HashSet<String>,
) -> Result<PassEnd, String> {
    let since_ms = pass.since_ms;
    let (pages, end) = list_pages(run, api, hook, pass.cursor, since_ms).await?;

    // Deciding over all pages together counts an event's attempts on different pages as one.
    let listed: Vec<Value> = pages
        .iter()
        .flat_map(|page| page.deliveries.iter().cloned())
        .collect();
    let mut first_page: HashMap<&str, usize> = HashMap::new();
    for (index, page) in pages.iter().enumerate() {
        for guid in page
            .deliveries
            .iter()
            .filter_map(|d| d.get("guid").and_then(Value::as_str))
        {
            first_page.entry(guid).or_insert(index);
        }
    }
    let mut picked: Vec<(usize, String, String)> = Vec::new();
    for (id, guid) in failed_deliveries(&Value::Array(listed), since_ms) {
        let page = first_page.get(guid.as_str()).copied().unwrap_or(0);
        picked.push((page, id, guid));
    }
    picked.sort_by_key(|(page, _, _)| *page);

    let base = hook.deliveries_path();
    for (page, id, guid) in picked {
        if redelivered.contains(&guid) {
            continue;
        }
        if !run.may_start_call() {
            // This page is read again next time; its redelivered events are claimed by then.
            return Ok(PassEnd::Cut {
                resume: pages[page].cursor.clone(),
            });
        }
        let seen = run
            .pipeline
            .store()
            .delivery_seen(&run.instance.id, &guid)
            .await
            .map_err(|e| e.to_string())?;
        if seen {
            continue;
        }
        api.post(&format!("{base}/{id}/attempts"), &json!({}))
            .await
            .map_err(|e| e.to_string())?;
        info!(repo = %hook.repo, hook = %hook.id, delivery = %guid, "asked GitHub to redeliver a failed webhook");
        metrics::count(run.instance.tracker.route(), metrics::CATCH_UP_FOUND, 1);
        run.report.redelivered += 1;
        redelivered.insert(guid);
    }
    Ok(end)
}

/// Lists pages of deliveries from `cursor` until one reaches back past `since_ms`, the last
/// page, or the end of the budget.
async fn list_pages(
    run: &mut InstanceRun<'_>,
    api: &Api,
    hook: &Hook,
    mut cursor: Option<String>,
    since_ms: i64,
) -> Result<(Vec<Page>, PassEnd), String> {
    let mut pages = Vec::new();
    loop {
        if !run.may_read_page() {
            return Ok((pages, PassEnd::Cut { resume: cursor }));
        }
        let mut path = format!("{}?per_page={DELIVERIES_PER_PAGE}", hook.deliveries_path());
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencoding::encode(cursor)));
        }
        let answer = api.get_page(&path).await;
        run.pages_left = run.pages_left.saturating_sub(1);
        let (listed, headers) = match answer {
            Ok(answer) => answer,
            // A stored cursor that GitHub no longer accepts would stop every later run, and
            // reading from the newest page again loses nothing.
            Err(error)
                if pages.is_empty()
                    && cursor.is_some()
                    && matches!(error.status(), Some(400 | 422)) =>
            {
                warn!(hook = %hook.key(), error = %error, "GitHub rejected the stored cursor, so the deliveries are read again from the newest");
                cursor = None;
                continue;
            }
            Err(error) => return Err(error.to_string()),
        };
        let deliveries = match listed {
            Value::Array(deliveries) => deliveries,
            other => {
                return Err(format!(
                    "GET {path} answered {} instead of a list of deliveries",
                    short(&other)
                ));
            }
        };
        let reached_since = deliveries.iter().any(|d| delivered_ms(d) < since_ms);
        let next = next_link(&headers).and_then(|url| cursor_of(&url));
        pages.push(Page {
            cursor: cursor.take(),
            deliveries,
        });
        match next {
            Some(next) if !reached_since => cursor = Some(next),
            _ => return Ok((pages, PassEnd::Done)),
        }
    }
}

/// Returns the decoded `cursor` query parameter of a next-page URL.
fn cursor_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(name, _)| name == "cursor")
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

fn short(value: &Value) -> String {
    value.to_string().chars().take(120).collect()
}

fn delivered_ms(attempt: &Value) -> i64 {
    attempt
        .get("delivered_at")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms)
        .unwrap_or(0)
}

/// Picks the deliveries to redeliver from GitHub's hook deliveries: for each event (`guid`)
/// with an attempt since `since_ms`, none of whose attempts got a 2xx response, the newest
/// attempt's (id, guid). Events redelivered often already are left alone.
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
    fn cursor_decoded_from_next_link() {
        let url = "https://api.github.com/repositories/7/hooks/9/deliveries?per_page=100&cursor=v1_MTIz%3D";
        assert_eq!(cursor_of(url).as_deref(), Some("v1_MTIz="));
        assert_eq!(cursor_of("https://api.github.com/x?page=2"), None);
    }
}
