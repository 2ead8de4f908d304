//! The HP ALM/QC poller: reads the defects changed since a watermark and feeds each change
//! into the pipeline.
//!
//! A run handles each `DOMAIN/PROJECT` of an instance (the option `projects` and the projects
//! of its connections). It takes a lease, so overlapping runs never read the same page twice.
//! Then it signs in and queries `defects` with `last-modified >= watermark - overlap`, ordered by
//! `last-modified` then `id`, a page at a time. `last-modified` is the server's local time at
//! one-second precision, so the overlap re-reads the last seconds and the changes already
//! handled there (kept with the watermark as `{id}@{bug-ver-stamp}`) are dropped.
//!
//! The author of a change is the `User` of the defect's audit record for that change. When a
//! defect was saved more than once since the last run, each save becomes its own events, with
//! its audit record's user and changed fields, so an earlier save is not lost. When the
//! audit cannot be read (no permission, or no record at that time), the change is skipped with
//! a warning rather than risk syncing the proxy user's own write back; a defect's first
//! version without an audit record is attributed to its `detected-by`. A change goes through
//! [`Pipeline::sync_polled`] with the batch id `{project}/{id}@{version}`, which plays the part
//! of a delivery id. The watermark advances only after every change of a page is synced,
//! skipped or parked; a tracker or storage failure ends the run with the watermark where it
//! was, so the next run reads the page again.
//!
//! Instance options: `poll_overlap_secs` (default 120), `page_size` (100),
//! `utc_offset_minutes` (the server's offset from UTC, default 0, only for event times), and
//! `initial_lookback_secs` (how far back the first run reads, default 3600).

use std::collections::BTreeSet;

use quick_xml::Reader;
use quick_xml::events::Event;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{collection_path, entity_field, html_to_markdown, in_session, projects};
use crate::config::Config;
use crate::error::{StoreError, TargetError};
use crate::http::Api;
use crate::model::{
    Author, Change, ChangeEvent, CommentContent, Field, Instance, IssueContent, IssueRef,
    IssueState, TrackerKind,
};
use crate::pipeline::Pipeline;
use crate::store::{Lease, PollWatermark};

const FIELDS: &str = "id,name,description,status,last-modified,bug-ver-stamp,detected-by";
/// The maximum number of pages one project reads in one run; the next run goes on from the watermark.
const MAX_PAGES: usize = 50;
/// Audit records this far from a change's `last-modified` belong to it (both are whole seconds).
const AUDIT_SLACK_SECS: i64 = 2;

/// The poller's settings of one instance, from its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollSettings {
    pub overlap_secs: i64,
    pub page_size: i64,
    pub utc_offset_minutes: i64,
    pub initial_lookback_secs: i64,
}

impl PollSettings {
    /// Reads the settings from an instance's options, with the defaults for those it lacks.
    pub fn from_options(options: &Map<String, Value>) -> PollSettings {
        let number =
            |name: &str, default: i64| options.get(name).and_then(Value::as_i64).unwrap_or(default);
        PollSettings {
            overlap_secs: number("poll_overlap_secs", 120).max(0),
            page_size: number("page_size", 100).clamp(1, 2000),
            utc_offset_minutes: number("utc_offset_minutes", 0),
            initial_lookback_secs: number("initial_lookback_secs", 3600).max(0),
        }
    }
}

/// The result of one run in one project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProjectReport {
    pub instance: String,
    pub project: String,
    /// `polled`, `busy` (another run holds the lease) or `failed`.
    pub outcome: String,
    pub pages: usize,
    /// Changes read that were not handled before.
    pub changes: usize,
    pub synced: usize,
    pub skipped: usize,
    pub parked: usize,
    /// The watermark after the run.
    pub watermark: Option<String>,
    pub error: Option<String>,
}

/// Polls every project of every HP ALM/QC instance.
///
/// # Errors
/// The configuration could not be read; project failures are in the reports.
pub async fn poll_all(
    pipeline: &Pipeline,
    deadline: Instant,
) -> Result<Vec<ProjectReport>, StoreError> {
    let config = pipeline.config(true).await?;
    let holder = uuid::Uuid::new_v4().to_string();
    let mut reports = Vec::new();
    for instance in config
        .instances
        .iter()
        .filter(|i| i.tracker == TrackerKind::HpAlm)
    {
        for project in polled_projects(&config, instance) {
            reports.push(poll_project(pipeline, instance, &project, deadline, &holder).await);
        }
    }
    Ok(reports)
}

/// The projects polled for `instance`: its option `projects` and those its connections name.
pub fn polled_projects(config: &Config, instance: &Instance) -> Vec<String> {
    let mut names: BTreeSet<String> = projects(&instance.options).into_iter().collect();
    for connection in &config.connections {
        for side in [&connection.a, &connection.b] {
            if side.instance == instance.id {
                names.insert(side.project.clone());
            }
        }
    }
    names.into_iter().collect()
}

/// Polls one project under its lease and reports what happened.
pub async fn poll_project(
    pipeline: &Pipeline,
    instance: &Instance,
    project: &str,
    deadline: Instant,
    holder: &str,
) -> ProjectReport {
    let mut report = ProjectReport {
        instance: instance.id.clone(),
        project: project.to_owned(),
        ..ProjectReport::default()
    };
    let lease = format!("alm-poll#{}#{project}", instance.id);
    let hold_ms = i64::try_from(
        deadline
            .saturating_duration_since(Instant::now())
            .as_millis(),
    )
    .unwrap_or(i64::MAX / 2)
        + 30_000;
    match pipeline
        .store()
        .acquire_lease(&lease, holder, hold_ms)
        .await
    {
        Ok(Lease::Held { .. }) => {}
        Ok(Lease::Busy { .. }) => {
            info!(instance = %instance.id, project, "another poll of this project is running; skipped");
            report.outcome = "busy".to_owned();
            return report;
        }
        Err(error) => {
            report.outcome = "failed".to_owned();
            report.error = Some(error.to_string());
            return report;
        }
    }
    let result = poll_locked(pipeline, instance, project, deadline, &mut report).await;
    if let Err(error) = pipeline.store().release_lease(&lease, holder).await {
        warn!(instance = %instance.id, project, error = %error, "could not release the poll lease; it expires on its own");
    }
    match result {
        Ok(()) => report.outcome = "polled".to_owned(),
        Err(error) => {
            warn!(instance = %instance.id, project, error = %error, "poll failed; the watermark stays, so the next run reads the page again");
            report.outcome = "failed".to_owned();
            report.error = Some(error);
        }
    }
    info!(instance = %instance.id, project, outcome = %report.outcome, changes = report.changes, synced = report.synced, skipped = report.skipped, parked = report.parked, "poll finished");
    report
}

async fn poll_locked(
    pipeline: &Pipeline,
    instance: &Instance,
    project: &str,
    deadline: Instant,
    report: &mut ProjectReport,
) -> Result<(), String> {
    let settings = PollSettings::from_options(&instance.options);
    let store = pipeline.store();
    let mut watermark = store
        .poll_watermark(&instance.id, project)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| PollWatermark {
            last_modified: shift(&server_now(&settings), -settings.initial_lookback_secs),
            handled: Vec::new(),
        });
    report.watermark = Some(watermark.last_modified.clone());
    let api = pipeline
        .api(instance, deadline, false)
        .await
        .map_err(|e| e.to_string())?;
    let collection = collection_path(project, "defects").map_err(|e| e.to_string())?;

    let mut cursor = shift(&watermark.last_modified, -settings.overlap_secs);
    let mut start = 1;
    for _ in 0..MAX_PAGES {
        if Instant::now() >= deadline {
            break;
        }
        let path = format!(
            "{collection}?query={}&order-by={}&fields={FIELDS}&page-size={}&start-index={start}",
            urlencoding::encode(&format!("{{last-modified[>=\"{cursor}\"]}}")),
            urlencoding::encode("{last-modified[ASC];id[ASC]}"),
            settings.page_size,
        );
        let page = in_session(&api, |session| {
            let path = path.clone();
            async move { session.get(&path).await }
        })
        .await
        .map_err(|e| e.to_string())?;
        let entities = page
            .get("entities")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        report.pages += 1;

        let mut newest = watermark.last_modified.clone();
        for defect in &entities {
            let (Some(id), Some(modified)) = (
                entity_field(defect, "id"),
                entity_field(defect, "last-modified"),
            ) else {
                return Err(format!("a defect of {project} lacks id or last-modified"));
            };
            let key = change_key(defect);
            if modified > newest.as_str() {
                newest = modified.to_owned();
            }
            if watermark.handled.contains(&key) {
                continue;
            }
            report.changes += 1;
            let earlier = Earlier {
                handled: &watermark.handled,
                floor: &cursor,
            };
            handle_change(
                pipeline, &api, instance, project, defect, id, &key, &earlier, deadline, report,
            )
            .await?;
            watermark.handled.push(key);
        }

        // Every change of the page is handled: advance, and keep only the keys the next
        // overlap window can meet again.
        let floor = shift(&newest, -settings.overlap_secs);
        watermark.handled.retain(|key| {
            key.rsplit('|')
                .next()
                .is_some_and(|at| at >= floor.as_str())
        });
        watermark.last_modified = newest.clone();
        store
            .set_poll_watermark(&instance.id, project, &watermark)
            .await
            .map_err(|e| e.to_string())?;
        report.watermark = Some(newest.clone());

        if (entities.len() as i64) < settings.page_size {
            break;
        }
        // Go on after the newest time; the entities at that second were read already.
        let at_newest = entities
            .iter()
            .filter(|d| entity_field(d, "last-modified") == Some(newest.as_str()))
            .count() as i64;
        start = if cursor == newest {
            start + settings.page_size
        } else {
            at_newest + 1
        };
        cursor = newest;
    }
    Ok(())
}

/// The key of one change: the defect, its version and its time (after the last `|`).
fn change_key(defect: &Value) -> String {
    let id = entity_field(defect, "id").unwrap_or_default();
    let modified = entity_field(defect, "last-modified").unwrap_or_default();
    let version = entity_field(defect, "bug-ver-stamp").unwrap_or(modified);
    format!("{id}@{version}|{modified}")
}

/// The record of earlier runs: the change keys kept with the watermark, and the time from
/// which this run reads.
struct Earlier<'a> {
    handled: &'a [String],
    floor: &'a str,
}

#[allow(clippy::too_many_arguments)]
async fn handle_change(
    pipeline: &Pipeline,
    api: &Api,
    instance: &Instance,
    project: &str,
    defect: &Value,
    id: &str,
    key: &str,
    earlier: &Earlier<'_>,
    deadline: Instant,
    report: &mut ProjectReport,
) -> Result<(), String> {
    let audits = match read_audits(api, project, id).await {
        Ok(audits) => audits,
        Err(error) if transient(&error) => {
            return Err(format!("could not read the audit of defect {id}: {error}"));
        }
        Err(error) => {
            warn!(instance = %instance.id, project, defect = id, error = %error, "change skipped: the defect's audit cannot be read, so its author is unknown");
            report.skipped += 1;
            return Ok(());
        }
    };
    let settings = PollSettings::from_options(&instance.options);
    let unhandled = unhandled_audits(defect, &audits, earlier);
    let events = if unhandled.len() > 1 {
        saves_events(instance, project, defect, &unhandled, &settings)
    } else {
        events_of(instance, project, defect, &audits, &settings)
    };
    let events = match events {
        Ok(events) => events,
        Err(reason) => {
            warn!(instance = %instance.id, project, defect = id, reason = %reason, "change skipped");
            report.skipped += 1;
            return Ok(());
        }
    };
    let batch = format!("{project}/{}", key.split('|').next().unwrap_or(key));
    let answer = pipeline
        .sync_polled(&instance.id, &events, &batch, deadline)
        .await;
    if !matches!(answer.status, 200 | 202) {
        let message = answer
            .body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(format!(
            "defect {id} was not synced ({}): {message}",
            answer.status
        ));
    }
    match answer.body.get("outcome").and_then(Value::as_str) {
        Some("parked") => report.parked += 1,
        Some("processed") => report.synced += 1,
        _ => report.skipped += 1,
    }
    Ok(())
}

fn transient(error: &TargetError) -> bool {
    match error {
        TargetError::Unavailable { .. } | TargetError::RateLimited { .. } => true,
        TargetError::Status { status, .. } => *status >= 500 || *status == 408,
        _ => false,
    }
}

/// One record of a defect's audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    pub id: i64,
    pub action: String,
    pub time: String,
    pub user: String,
    /// Changed properties: (name such as `BG_STATUS`, new value, old value).
    pub properties: Vec<(String, String, String)>,
}

async fn read_audits(api: &Api, project: &str, defect: &str) -> Result<Vec<Audit>, TargetError> {
    let query = format!("{{parent-type[defect];parent-id[{defect}]}}");
    let path = format!(
        "{}?query={}",
        collection_path(project, "audits")?,
        urlencoding::encode(&query)
    );
    let answer = in_session(api, |session| {
        let path = path.clone();
        async move {
            session
                .send_raw(Method::GET, &path, &[("accept", "application/xml")], None)
                .await
        }
    })
    .await?;
    parse_audits(&answer.text).map_err(|message| TargetError::BadResponse {
        tracker: TrackerKind::HpAlm,
        method: "GET".to_owned(),
        path,
        message,
    })
}

/// Parses an `<Audits>` document.
///
/// # Errors
/// A message when the XML does not parse.
pub fn parse_audits(xml: &str) -> Result<Vec<Audit>, String> {
    let mut reader = Reader::from_str(xml);
    let mut audits = Vec::new();
    let mut current: Option<Audit> = None;
    let mut property: Option<(String, String, String)> = None;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid audit XML: {e}"))?;
        match event {
            Event::Start(start) => {
                text.clear();
                match start.local_name().as_ref() {
                    b"Audit" => current = Some(Audit::default()),
                    b"Property" => {
                        let name = start
                            .try_get_attribute("Name")
                            .ok()
                            .flatten()
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                            .unwrap_or_default();
                        property = Some((name, String::new(), String::new()));
                    }
                    _ => {}
                }
            }
            Event::Text(value) => text.push_str(&value.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| e.to_string())?;
                let reference = format!("&{name};");
                let resolved =
                    quick_xml::escape::unescape(&reference).map_err(|e| e.to_string())?;
                text.push_str(&resolved);
            }
            Event::End(end) => {
                let value = text.trim().to_owned();
                match (
                    end.local_name().as_ref(),
                    current.as_mut(),
                    property.as_mut(),
                ) {
                    (b"NewValue", _, Some(p)) => p.1 = value,
                    (b"OldValue", _, Some(p)) => p.2 = value,
                    (b"Property", Some(audit), Some(_)) => {
                        audit.properties.push(property.take().unwrap_or_default());
                    }
                    (b"Id", Some(audit), None) => audit.id = value.parse().unwrap_or(0),
                    (b"Action", Some(audit), None) => audit.action = value,
                    (b"Time", Some(audit), None) => audit.time = value,
                    (b"User", Some(audit), None) => audit.user = value,
                    (b"Audit", Some(_), _) => audits.extend(current.take()),
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(audits)
}

/// Builds the change events of one defect version, or returns why it is skipped.
///
/// # Errors
/// The reason the change cannot be attributed.
pub fn events_of(
    instance: &Instance,
    project: &str,
    defect: &Value,
    audits: &[Audit],
    settings: &PollSettings,
) -> Result<Vec<ChangeEvent>, String> {
    let field = |name: &str| entity_field(defect, name).unwrap_or_default();
    let id = field("id");
    let modified = field("last-modified");
    let at = parse_time(modified).ok_or_else(|| {
        format!("invalid last-modified {modified:?}: expected yyyy-MM-dd HH:mm:ss")
    })?;
    let audit = audits
        .iter()
        .filter(|audit| {
            parse_time(&audit.time).is_some_and(|time| (time - at).abs() <= AUDIT_SLACK_SECS)
        })
        .max_by_key(|audit| (audit.time.clone(), audit.id));
    let comment_id = format!("{id}@{}", field("bug-ver-stamp"));
    audit_events(instance, project, defect, audit, comment_id, settings)
}

/// Builds one event list per save when several saves of a defect happened since the last
/// run, so that each save keeps its own author and changed fields. The content of every event
/// is the defect's current version.
///
/// # Errors
/// The reason when no save touches a synced field.
fn saves_events(
    instance: &Instance,
    project: &str,
    defect: &Value,
    audits: &[&Audit],
    settings: &PollSettings,
) -> Result<Vec<ChangeEvent>, String> {
    let version = entity_field(defect, "bug-ver-stamp").unwrap_or_default();
    let id = entity_field(defect, "id").unwrap_or_default();
    let mut events = Vec::new();
    let mut reasons = Vec::new();
    for audit in audits {
        let comment_id = format!("{id}@{version}/{}", audit.id);
        match audit_events(instance, project, defect, Some(audit), comment_id, settings) {
            Ok(found) => events.extend(found),
            Err(reason) => reasons.push(reason),
        }
    }
    if events.is_empty() {
        return Err(reasons.join("; "));
    }
    Ok(events)
}

/// Returns the audit records of the saves of `defect` that no earlier run handled, oldest
/// first. Every save adds one to `bug-ver-stamp` and writes one audit record, so when an earlier
/// version of the defect is among the handled keys, the newest records past it are the new
/// ones. Otherwise no version since the floor was handled, and the records from then on are new.
///
/// NOTE: one audit record per save is how the sandbox behaves. A server that writes more
/// records per save would make this pick too few saves, never too many.
fn unhandled_audits<'a>(
    defect: &Value,
    audits: &'a [Audit],
    earlier: &Earlier<'_>,
) -> Vec<&'a Audit> {
    let id = entity_field(defect, "id").unwrap_or_default();
    let mut sorted: Vec<&Audit> = audits.iter().collect();
    sorted.sort_by_key(|audit| audit.id);
    let current = entity_field(defect, "bug-ver-stamp").and_then(|v| v.parse::<i64>().ok());
    let previous = earlier
        .handled
        .iter()
        .filter_map(|key| {
            let (version, _) = key.split_once('|')?;
            let (key_id, version) = version.split_once('@')?;
            (key_id == id).then(|| version.parse::<i64>().ok())?
        })
        .max();
    match (current, previous) {
        (Some(current), Some(previous)) => {
            let new = usize::try_from(current - previous).unwrap_or(0);
            sorted.split_off(sorted.len().saturating_sub(new))
        }
        _ => {
            let floor = parse_time(earlier.floor);
            sorted
                .into_iter()
                .filter(|audit| floor.is_some() && parse_time(&audit.time) >= floor)
                .collect()
        }
    }
}

/// Builds the events of one save of `defect`, attributed through its audit record.
fn audit_events(
    instance: &Instance,
    project: &str,
    defect: &Value,
    audit: Option<&Audit>,
    comment_id: String,
    settings: &PollSettings,
) -> Result<Vec<ChangeEvent>, String> {
    let field = |name: &str| entity_field(defect, name).unwrap_or_default();
    let id = field("id");
    let modified = field("last-modified");
    let at = parse_time(modified).ok_or_else(|| {
        format!("invalid last-modified {modified:?}: expected yyyy-MM-dd HH:mm:ss")
    })?;
    let first_version = field("bug-ver-stamp") == "1";
    let user = match audit {
        Some(audit) if !audit.user.is_empty() => audit.user.clone(),
        None if first_version && !field("detected-by").is_empty() => {
            field("detected-by").to_owned()
        }
        _ => {
            return Err(format!(
                "defect {id} has no audit record with a user near {modified}, so its author is unknown"
            ));
        }
    };
    let closed_statuses = closed_statuses(&instance.options);
    let content = IssueContent {
        title: field("name").to_owned(),
        body: html_to_markdown(field("description")),
        state: if closed_statuses.iter().any(|s| s == field("status")) {
            IssueState::Closed
        } else {
            IssueState::Open
        },
        labels: Vec::new(),
    };
    let at_ms = (at - settings.utc_offset_minutes * 60) * 1000;
    let base = ChangeEvent {
        kind: "defect.updated".to_owned(),
        tracker: TrackerKind::HpAlm,
        instance: instance.id.clone(),
        project: project.to_owned(),
        issue: IssueRef {
            key: id.to_owned(),
            id: format!("{project}/{id}"),
            url: format!(
                "{}{}/{id}",
                instance.base_url.trim_end_matches('/'),
                collection_path(project, "defects").map_err(|e| e.to_string())?
            ),
        },
        content,
        author: Author {
            id: user.clone(),
            name: user,
        },
        at_ms,
        change: Change::IssueCreated,
    };

    let created = first_version
        && audit.is_none_or(|audit| {
            audit.action.eq_ignore_ascii_case("insert")
                || audit.action.eq_ignore_ascii_case("create")
        });
    if created {
        return Ok(vec![ChangeEvent {
            kind: "defect.created".to_owned(),
            ..base
        }]);
    }
    let properties = audit.map(|a| a.properties.as_slice()).unwrap_or_default();
    let mut fields = Vec::new();
    let mut comment = None;
    let mut comments_rewritten = false;
    for (name, new, old) in properties {
        match name.as_str() {
            "BG_SUMMARY" => fields.push(Field::Title),
            "BG_DESCRIPTION" => fields.push(Field::Body),
            "BG_STATUS" => fields.push(Field::State),
            "BG_DEV_COMMENTS" => {
                comment = added_comment(new, old);
                comments_rewritten = comment.is_none();
            }
            _ => {}
        }
    }
    if comments_rewritten {
        // NOTE: a change that both rewrites earlier text and appends a comment syncs no comment.
        tracing::info!(
            defect = id,
            modified,
            "dev-comments was edited rather than appended to; comment edits are not synced"
        );
    }
    if properties.is_empty() {
        fields = vec![Field::Title, Field::Body, Field::State];
    }
    let mut events = Vec::new();
    if !fields.is_empty() {
        events.push(ChangeEvent {
            change: Change::IssueUpdated {
                fields,
                labels_added: Vec::new(),
                labels_removed: Vec::new(),
            },
            ..base.clone()
        });
    }
    if let Some(body) = comment {
        events.push(ChangeEvent {
            kind: "defect.commented".to_owned(),
            change: Change::CommentCreated {
                comment: CommentContent {
                    id: comment_id,
                    body,
                    author: base.author.clone(),
                },
            },
            ..base
        });
    }
    if events.is_empty() && comments_rewritten {
        return Err(format!(
            "the change of defect {id} at {modified} edits earlier text of dev-comments instead \
             of appending a comment, and comment edits are not synced"
        ));
    }
    if events.is_empty() {
        return Err(format!(
            "the change of defect {id} at {modified} touches no synced field"
        ));
    }
    Ok(events)
}

/// The comment text that a `dev-comments` change appended, as Markdown, without its header.
fn added_comment(new: &str, old: &str) -> Option<String> {
    let strip = |html: &str| {
        html.trim()
            .trim_start_matches("<html>")
            .trim_start_matches("<body>")
            .trim_end_matches("</html>")
            .trim_end_matches("</body>")
            .trim()
            .to_owned()
    };
    let (new, old) = (strip(new), strip(old));
    let added = new.strip_prefix(old.as_str())?.trim();
    let added = added
        .strip_prefix(super::COMMENT_SEPARATOR)
        .unwrap_or(added);
    // ALM's client heads each comment with `<b>user &lt;user&gt;, date:</b>`.
    let text = match added.find(":</b>") {
        Some(end) => &added[end + ":</b>".len()..],
        None => added,
    };
    let markdown = html_to_markdown(text);
    (!markdown.is_empty()).then_some(markdown)
}

fn closed_statuses(options: &Map<String, Value>) -> Vec<String> {
    match options.get("closed_statuses") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => vec![super::DEFAULT_CLOSED_STATUS.to_owned()],
    }
}

const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// Parses ALM's `yyyy-MM-dd HH:mm:ss` as seconds on the server's clock.
fn parse_time(text: &str) -> Option<i64> {
    let parsed = time::PrimitiveDateTime::parse(text.trim(), TIME_FORMAT).ok()?;
    Some(parsed.assume_utc().unix_timestamp())
}

/// Moves an ALM time by `seconds`; an unreadable time is returned as it is.
fn shift(text: &str, seconds: i64) -> String {
    parse_time(text)
        .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at + seconds).ok())
        .and_then(|at| at.format(TIME_FORMAT).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// The current time on the server's clock, from the configured offset.
fn server_now(settings: &PollSettings) -> String {
    let now =
        time::OffsetDateTime::now_utc() + time::Duration::minutes(settings.utc_offset_minutes);
    now.format(TIME_FORMAT).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDITS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Audits TotalResults="2">
  <Audit><Id>1</Id><Action>UPDATE</Action><ParentId>7</ParentId><ParentType>defect</ParentType>
    <Time>2024-05-02 10:44:25</Time><User>tester_one</User>
    <Properties><Property Label="Status" Name="BG_STATUS"><NewValue>Fixed</NewValue><OldValue>Open</OldValue></Property></Properties>
  </Audit>
  <Audit><Id>2</Id><Action>UPDATE</Action><ParentId>7</ParentId><ParentType>defect</ParentType>
    <Time>2024-05-02 10:50:03</Time><User>sync_proxy</User>
    <Properties><Property Label="Comments" Name="BG_DEV_COMMENTS"><NewValue>&lt;html&gt;x&lt;/html&gt;</NewValue><OldValue></OldValue></Property></Properties>
  </Audit>
</Audits>"#;

    #[test]
    fn audits_parse() {
        let audits = parse_audits(AUDITS).unwrap();
        assert_eq!(audits.len(), 2);
        assert_eq!(audits[0].user, "tester_one");
        assert_eq!(audits[0].time, "2024-05-02 10:44:25");
        assert_eq!(
            audits[0].properties,
            vec![(
                "BG_STATUS".to_owned(),
                "Fixed".to_owned(),
                "Open".to_owned()
            )]
        );
        assert_eq!(audits[1].properties[0].1, "<html>x</html>");
    }

    #[test]
    fn shift_moves_seconds() {
        assert_eq!(shift("2024-05-02 10:00:30", -60), "2024-05-02 09:59:30");
        assert_eq!(shift("garbage", -60), "garbage");
    }

    #[test]
    fn saves_since_handled_version_are_new() {
        let audits = parse_audits(AUDITS).unwrap();
        let defect = serde_json::json!({"Fields": [
            {"Name": "id", "values": [{"value": "7"}]},
            {"Name": "bug-ver-stamp", "values": [{"value": "5"}]},
        ]});
        let handled = vec![
            "7@4|2024-05-02 10:40:00".to_owned(),
            "8@9|2024-05-02 10:49:00".to_owned(),
        ];
        let earlier = Earlier {
            handled: &handled,
            floor: "2024-05-02 10:38:00",
        };
        let new: Vec<i64> = unhandled_audits(&defect, &audits, &earlier)
            .iter()
            .map(|audit| audit.id)
            .collect();
        assert_eq!(new, vec![2]);

        // No version of defect 7 in the handled keys: every save since the floor is new.
        let earlier = Earlier {
            handled: &handled[1..],
            floor: "2024-05-02 10:38:00",
        };
        let new: Vec<i64> = unhandled_audits(&defect, &audits, &earlier)
            .iter()
            .map(|audit| audit.id)
            .collect();
        assert_eq!(new, vec![1, 2]);
    }

    #[test]
    fn added_comment_drops_header() {
        let old = super::super::append_comment("", "ann", "2024-05-01", "<p>first</p>");
        let new = super::super::append_comment(&old, "bob", "2024-05-02", "<p>second words</p>");
        assert_eq!(added_comment(&new, &old).as_deref(), Some("second words"));
    }
}
