//! HP ALM/QC (OpenText ALM): polled defects in, the REST entity API out.
//!
//! ALM sends no webhooks; [`poll`] reads the defects changed since a watermark on a schedule.
//! Vendor support for ALM/QC is winding down, so this module stays small and apart from the
//! rest: nothing outside it depends on ALM.
//!
//! The instance's `base_url` is the server's `qcbin` URL, such as `https://alm.example.com/qcbin`.
//! The secret contains the proxy user's `username` and `password`. Every call runs in a session
//! opened with them (the authentication point, then a site session) whose cookies travel as
//! sensitive headers. A connection endpoint's `project` is `DOMAIN/PROJECT`; issue ids are
//! `DOMAIN/PROJECT/{defect id}`. Instance options: `projects` (every `DOMAIN/PROJECT` the proxy
//! user must see, for the preflight and the poller), `closed_statuses` (default `["Closed"]`),
//! and the poller's settings described in [`poll`]. Endpoint settings: `closed_status` (default
//! `Closed`), `open_status` (default `Open`), and the options `severity` (default `2-Medium`)
//! and `create_fields`, fixed fields of created defects.
//!
//! ALM has no comment entity: comments are blocks appended to the HTML field `dev-comments`,
//! each headed `<b>user &lt;user&gt;, date:</b>`, as ALM's own client writes them.
//!
//! ALM returns 404 to every write to a linked defect that was deleted there, and the event
//! parks with an error stating that the defect no longer exists. The poller does not read
//! deleted defects, because ALM's changed-since query does not list them.

pub mod poll;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use crate::error::{Rejection, TargetError};
use crate::http::Api;
use crate::model::{
    Endpoint, Instance, IssueContent, IssueRef, IssueState, ProxyIdentity, TrackerKind,
};
use crate::options::{InstanceOption, OptionKind};
use crate::tracker::{
    Auth, Credentials, InboundRequest, IssueUpdate, Parsed, Peer, PreflightCheck, Source, Target,
    TrackerModule,
};

const DEFAULT_CLOSED_STATUS: &str = "Closed";
const DEFAULT_OPEN_STATUS: &str = "Open";
const DEFAULT_SEVERITY: &str = "2-Medium";
/// How long a signed-in session is reused; ALM ends idle sessions after about an hour.
const SESSION_TTL: Duration = Duration::from_secs(20 * 60);
/// The line ALM's client puts between two comments of `dev-comments`.
const COMMENT_SEPARATOR: &str = "<div align=\"left\"><font face=\"Arial\" color=\"#000080\"><span style=\"font-size:8pt\"><b>________________________________________</b></span></font></div>";

/// The instance options HP ALM/QC reads: the projects and the poller settings of [`poll`].
pub const INSTANCE_OPTIONS: &[InstanceOption] = &[
    InstanceOption::new("projects", OptionKind::TextListOrCommaText),
    InstanceOption::new("closed_statuses", OptionKind::TextListOrCommaText),
    InstanceOption::new("poll_overlap_secs", OptionKind::WholeNumber),
    InstanceOption::new("page_size", OptionKind::WholeNumber),
    InstanceOption::new("utc_offset_minutes", OptionKind::WholeNumber),
    InstanceOption::new("initial_lookback_secs", OptionKind::WholeNumber),
];

/// The HP ALM/QC tracker module.
pub struct HpAlm;

impl TrackerModule for HpAlm {
    fn instance_options(&self) -> &'static [InstanceOption] {
        INSTANCE_OPTIONS
    }

    fn secret_example(&self) -> &'static str {
        r#"{"username": "...", "password": "..."}"#
    }

    fn source(&self) -> &dyn Source {
        self
    }

    fn target(&self) -> &dyn Target {
        self
    }

    fn auth(&self, credentials: &Credentials) -> Result<Auth, String> {
        let user = credentials.username.clone().ok_or(
            "the secret has no \"username\" field: store the proxy user's ALM user name there",
        )?;
        let password = credentials.password.clone().ok_or(
            "the secret has no \"password\" field: store the proxy user's ALM password there",
        )?;
        Ok(Auth::Basic { user, password })
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }
}

impl Source for HpAlm {
    fn verify(&self, _request: &InboundRequest, _secret: &SecretString) -> Result<(), Rejection> {
        Err(Rejection::UnknownRoute("hp-alm".to_owned()))
    }

    fn parse(&self, _instance: &str, _request: &InboundRequest) -> Result<Parsed, Rejection> {
        Err(Rejection::Malformed(
            "HP ALM/QC sends no webhooks: the alm-poller function reads its changes".to_owned(),
        ))
    }
}

/// Checks the HP ALM/QC options of an instance, as `proxysync instance add` does.
///
/// # Errors
/// A message naming the invalid option.
pub fn check_options(options: &Map<String, Value>) -> Result<(), String> {
    for project in projects(options) {
        split_project(&project).map_err(|e| e.to_string())?;
    }
    for name in [
        "poll_overlap_secs",
        "page_size",
        "utc_offset_minutes",
        "initial_lookback_secs",
    ] {
        if let Some(value) = options.get(name)
            && value.as_i64().is_none()
        {
            return Err(format!(
                "invalid option {name}={value}: expected a whole number"
            ));
        }
    }
    Ok(())
}

/// The `DOMAIN/PROJECT` names of the option `projects`, a list or a comma-separated string.
pub fn projects(options: &Map<String, Value>) -> Vec<String> {
    let names: Vec<String> = match options.get("projects") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => Vec::new(),
    };
    names.into_iter().filter(|name| !name.is_empty()).collect()
}

/// Splits `DOMAIN/PROJECT`.
///
/// # Errors
/// [`TargetError::Refused`] naming the value.
pub fn split_project(project: &str) -> Result<(&str, &str), TargetError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match project.split_once('/') {
        Some((domain, name)) if valid(domain) && valid(name) => Ok((domain, name)),
        _ => Err(TargetError::Refused(format!(
            "invalid HP ALM/QC project {project:?}: expected DOMAIN/PROJECT, such as DEFAULT/Example_Project"
        ))),
    }
}

/// The REST path of a project's collection, such as `/rest/domains/D/projects/P/defects`.
pub fn collection_path(project: &str, collection: &str) -> Result<String, TargetError> {
    let (domain, name) = split_project(project)?;
    Ok(format!(
        "/rest/domains/{domain}/projects/{name}/{collection}"
    ))
}

/// Splits an issue id `DOMAIN/PROJECT/{defect id}` into the project and the defect id.
fn split_issue(id: &str) -> Result<(&str, &str), TargetError> {
    match id.rsplit_once('/') {
        Some((project, defect))
            if split_project(project).is_ok()
                && !defect.is_empty()
                && defect.chars().all(|c| c.is_ascii_digit()) =>
        {
            Ok((project, defect))
        }
        _ => Err(TargetError::Refused(format!(
            "invalid HP ALM/QC issue id {id:?}: expected DOMAIN/PROJECT/defect-id"
        ))),
    }
}

/// Reads a field of an entity in ALM's JSON format (`{"Fields": [{"Name", "values"}]}`).
pub fn entity_field<'a>(entity: &'a Value, name: &str) -> Option<&'a str> {
    entity
        .get("Fields")?
        .as_array()?
        .iter()
        .find(|field| field.get("Name").and_then(Value::as_str) == Some(name))?
        .pointer("/values/0/value")
        .and_then(Value::as_str)
}

/// Builds a defect entity in ALM's JSON format from field names and values.
fn entity(fields: &[(String, String)]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(name, value)| json!({"Name": name, "values": [{"value": value}]}))
        .collect();
    json!({"Type": "defect", "Fields": fields})
}

/// Renders Markdown as the HTML that ALM's memo fields hold, in the element set that
/// [`html_to_markdown`] reads back to the same text.
pub fn markdown_to_html(markdown: &str) -> String {
    proxysync_formats::markdown_to_html(markdown)
}

/// Converts an HTML memo field to Markdown. Elements outside the supported set are read as
/// their text.
pub fn html_to_markdown(html: &str) -> String {
    proxysync_formats::html_to_markdown(html).trim().to_owned()
}

/// Appends one comment block to the HTML of `dev-comments`.
pub fn append_comment(existing: &str, user: &str, date: &str, html: &str) -> String {
    let user = quick_xml::escape::escape(user);
    let block = format!(
        "<div align=\"left\"><font face=\"Arial\" color=\"#000080\"><span style=\"font-size:8pt\"><b>{user} &lt;{user}&gt;, {date}:</b></span></font><font face=\"Arial\"><span style=\"font-size:8pt\"> {html}</span></font></div>"
    );
    let body = existing
        .trim()
        .trim_start_matches("<html>")
        .trim_start_matches("<body>")
        .trim_end_matches("</html>")
        .trim_end_matches("</body>")
        .trim();
    if body.is_empty() {
        format!("<html><body>{block}</body></html>")
    } else {
        format!("<html><body>{body}{COMMENT_SEPARATOR}{block}</body></html>")
    }
}

/// The session headers of one signed-in user, with the time of the sign-in.
type Session = (std::time::Instant, Vec<(String, SecretString)>);

/// Signed-in sessions by base URL and user, reused while warm.
static SESSIONS: Mutex<Option<HashMap<String, Session>>> = Mutex::new(None);

fn session_key(api: &Api) -> String {
    format!(
        "{} {}",
        api.base_url(),
        api.basic_user().unwrap_or_default()
    )
}

fn forget_session(api: &Api) {
    let mut sessions = SESSIONS.lock().expect("session cache lock poisoned");
    if let Some(map) = sessions.as_mut() {
        map.remove(&session_key(api));
    }
}

/// Returns a client that calls as the signed-in session of `api`'s user, signing in when no
/// fresh session is cached: the authentication point checks the password and sets
/// `LWSSO_COOKIE_KEY`, and the site session sets `QCSession` and `XSRF-TOKEN`.
///
/// # Errors
/// The sign-in failed; a 401 means the user name or password is wrong.
pub async fn session(api: &Api) -> Result<Api, TargetError> {
    let key = session_key(api);
    {
        let sessions = SESSIONS.lock().expect("session cache lock poisoned");
        if let Some((at, headers)) = sessions.as_ref().and_then(|map| map.get(&key))
            && at.elapsed() < SESSION_TTL
        {
            return Ok(api.with_auth(Auth::Headers(headers.clone())));
        }
    }
    let signed = api
        .send_raw(Method::GET, "/authentication-point/authenticate", &[], None)
        .await?;
    let mut cookies = cookies_of(&signed.headers);
    let cookie_header = |cookies: &[(String, String)]| {
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let with_sso = api.with_auth(Auth::Headers(vec![(
        "cookie".to_owned(),
        SecretString::from(cookie_header(&cookies)),
    )]));
    let body = "<session-parameters><client-type>proxysync</client-type></session-parameters>";
    let opened = with_sso
        .send_raw(
            Method::POST,
            "/rest/site-session",
            &[],
            Some(("application/xml", body.to_owned())),
        )
        .await?;
    for (name, value) in cookies_of(&opened.headers) {
        cookies.retain(|(known, _)| *known != name);
        cookies.push((name, value));
    }
    let mut headers = vec![(
        "cookie".to_owned(),
        SecretString::from(cookie_header(&cookies)),
    )];
    if let Some((_, xsrf)) = cookies.iter().find(|(name, _)| name == "XSRF-TOKEN") {
        headers.push(("x-xsrf-token".to_owned(), SecretString::from(xsrf.clone())));
    }
    let mut sessions = SESSIONS.lock().expect("session cache lock poisoned");
    sessions
        .get_or_insert_with(HashMap::new)
        .insert(key, (std::time::Instant::now(), headers.clone()));
    Ok(api.with_auth(Auth::Headers(headers)))
}

/// Runs `call` in a session, signing in again once when ALM returns 401 (an expired session).
///
/// # Errors
/// The sign-in or the call failed.
pub async fn in_session<T, F, Fut>(api: &Api, call: F) -> Result<T, TargetError>
where
    F: Fn(Api) -> Fut,
    Fut: std::future::Future<Output = Result<T, TargetError>>,
{
    let first = call(session(api).await?).await;
    match first {
        Err(error) if error.is_unauthorized() => {
            forget_session(api);
            call(session(api).await?).await
        }
        other => other,
    }
}

fn cookies_of(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| {
            let pair = value.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Reads the text of the first element named `name` of an XML document.
pub fn xml_text(xml: &str, name: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(start)
                if start.local_name().as_ref() == name.as_bytes() =>
            {
                inside = true;
            }
            quick_xml::events::Event::Text(value) if inside => {
                text.push_str(&value.decode().ok()?);
            }
            quick_xml::events::Event::End(_) if inside => return Some(text.trim().to_owned()),
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

fn status_value(endpoint: &Endpoint, state: IssueState) -> String {
    match state {
        IssueState::Closed => endpoint
            .closed_status
            .as_deref()
            .unwrap_or(DEFAULT_CLOSED_STATUS),
        IssueState::Open => endpoint
            .open_status
            .as_deref()
            .unwrap_or(DEFAULT_OPEN_STATUS),
    }
    .to_owned()
}

fn today() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

fn bad_response(method: &str, path: &str, message: &str) -> TargetError {
    TargetError::BadResponse {
        tracker: TrackerKind::HpAlm,
        method: method.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// Rewrites ALM's 404 for a linked defect into an error stating that the defect no longer
/// exists, so the parked event shows the operator why its replays keep failing.
fn defect_gone(error: TargetError, project: &str, defect: &str) -> TargetError {
    match error {
        TargetError::Status {
            tracker,
            status: 404,
            method,
            path,
            message,
        } => {
            let answer = xml_text(&message, "Title").unwrap_or(message);
            TargetError::Status {
                tracker,
                status: 404,
                method,
                path,
                message: format!(
                    "defect {defect} no longer exists in {project} (ALM: {answer}): it was deleted \
                     in ALM, so the change cannot be applied; drop the parked event with \
                     `proxysync parked drop ID`"
                ),
            }
        }
        other => other,
    }
}

async fn append_block(api: &Api, issue: &IssueRef, html: &str) -> Result<String, TargetError> {
    let (project, defect) = split_issue(&issue.id)?;
    let path = format!("{}/{defect}", collection_path(project, "defects")?);
    let user = api.basic_user().unwrap_or_default().to_owned();
    in_session(api, |session| {
        let path = path.clone();
        let user = user.clone();
        async move {
            let current = session
                .get(&format!("{path}?fields=dev-comments,bug-ver-stamp"))
                .await?;
            let existing = entity_field(&current, "dev-comments").unwrap_or_default();
            let comments = append_comment(existing, &user, &today(), html);
            let update = entity(&[("dev-comments".to_owned(), comments)]);
            let answer = session.put(&path, &update).await?;
            let version = entity_field(&answer, "bug-ver-stamp").unwrap_or("0");
            Ok(format!("{defect}@{version}"))
        }
    })
    .await
    .map_err(|error| defect_gone(error, project, defect))
}

#[async_trait]
impl Target for HpAlm {
    async fn whoami(&self, api: &Api) -> Result<ProxyIdentity, TargetError> {
        let path = "/rest/is-authenticated";
        let answer = in_session(api, |session| async move {
            session
                .send_raw(Method::GET, path, &[("accept", "application/xml")], None)
                .await
        })
        .await?;
        let user = xml_text(&answer.text, "Username")
            .filter(|user| !user.is_empty())
            .ok_or_else(|| bad_response("GET", path, "the answer has no Username"))?;
        Ok(ProxyIdentity {
            id: user.clone(),
            name: user,
        })
    }

    async fn create_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        content: &IssueContent,
    ) -> Result<IssueRef, TargetError> {
        let path = collection_path(&project.project, "defects")?;
        let text = |name: &str, default: &str| {
            project
                .options
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_owned()
        };
        let mut fields = vec![
            ("name".to_owned(), content.title.clone()),
            ("description".to_owned(), markdown_to_html(&content.body)),
            ("status".to_owned(), status_value(project, content.state)),
            ("severity".to_owned(), text("severity", DEFAULT_SEVERITY)),
            (
                "detected-by".to_owned(),
                api.basic_user().unwrap_or_default().to_owned(),
            ),
            ("creation-time".to_owned(), today()),
        ];
        if let Some(Value::Object(fixed)) = project.options.get("create_fields") {
            for (name, value) in fixed {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                fields.retain(|(known, _)| known != name);
                fields.push((name.clone(), value));
            }
        }
        let body = entity(&fields);
        let answer = in_session(api, |session| {
            let path = path.clone();
            let body = body.clone();
            async move { session.post(&path, &body).await }
        })
        .await?;
        let id = entity_field(&answer, "id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| bad_response("POST", &path, "the created defect has no id"))?;
        Ok(IssueRef {
            key: id.to_owned(),
            id: format!("{}/{id}", project.project),
            url: format!("{}{path}/{id}", api.base_url()),
        })
    }

    async fn update_issue(
        &self,
        api: &Api,
        project: &Endpoint,
        issue: &IssueRef,
        update: &IssueUpdate,
    ) -> Result<(), TargetError> {
        let (issue_project, defect) = split_issue(&issue.id)?;
        let mut fields = Vec::new();
        if let Some(title) = &update.title {
            fields.push(("name".to_owned(), title.clone()));
        }
        if let Some(body) = &update.body {
            fields.push(("description".to_owned(), markdown_to_html(body)));
        }
        if let Some(state) = update.state {
            fields.push(("status".to_owned(), status_value(project, state)));
        }
        if fields.is_empty() {
            return Ok(());
        }
        let path = format!("{}/{defect}", collection_path(issue_project, "defects")?);
        let body = entity(&fields);
        in_session(api, |session| {
            let path = path.clone();
            let body = body.clone();
            async move { session.put(&path, &body).await }
        })
        .await
        .map_err(|error| defect_gone(error, issue_project, defect))?;
        Ok(())
    }

    async fn add_comment(
        &self,
        api: &Api,
        issue: &IssueRef,
        body: &str,
    ) -> Result<String, TargetError> {
        append_block(api, issue, &markdown_to_html(body)).await
    }

    async fn update_comment(
        &self,
        _api: &Api,
        issue: &IssueRef,
        comment_id: &str,
        _body: &str,
    ) -> Result<(), TargetError> {
        // NOTE: `dev-comments` is one log field without comment ids, so an edit on the other
        // side cannot find its block; the edit is not applied.
        tracing::info!(defect = %issue.key, comment = comment_id, "HP ALM/QC keeps comments as one log field; comment edit not applied");
        Ok(())
    }

    async fn delete_comment(
        &self,
        _api: &Api,
        issue: &IssueRef,
        comment_id: &str,
    ) -> Result<(), TargetError> {
        tracing::info!(defect = %issue.key, comment = comment_id, "HP ALM/QC keeps comments as one log field; comment deletion not applied");
        Ok(())
    }

    async fn link(&self, api: &Api, issue: &IssueRef, peer: &Peer<'_>) -> Result<(), TargetError> {
        let html = format!(
            "Linked with {} issue <a href=\"{}\">{}</a>",
            peer.tracker,
            quick_xml::escape::escape(peer.issue.url.as_str()),
            quick_xml::escape::escape(peer.issue.key.as_str())
        );
        append_block(api, issue, &html).await.map(|_| ())
    }

    fn in_project(&self, project: &Endpoint, issue: &IssueRef) -> bool {
        split_issue(&issue.id).is_ok_and(|(issue_project, _)| issue_project == project.project)
    }

    fn dry_run_response(&self, method: &str, _path: &str, _body: Option<&Value>) -> Value {
        match method {
            "POST" | "PUT" => entity(&[
                ("id".to_owned(), "0".to_owned()),
                ("bug-ver-stamp".to_owned(), "0".to_owned()),
            ]),
            _ => entity(&[("dev-comments".to_owned(), String::new())]),
        }
    }

    async fn preflight(&self, api: &Api, instance: &Instance) -> Vec<PreflightCheck> {
        let names = projects(&instance.options);
        if names.is_empty() {
            return vec![PreflightCheck {
                name: "option projects".to_owned(),
                ok: false,
                detail: "the instance lists no DOMAIN/PROJECT in its option projects: add every project its connections use".to_owned(),
            }];
        }
        let mut checks = Vec::new();
        for project in names {
            let name = format!("project {project}");
            let check = match collection_path(&project, "defects") {
                Err(error) => PreflightCheck {
                    name,
                    ok: false,
                    detail: error.to_string(),
                },
                Ok(path) => {
                    let path = format!("{path}?page-size=1&fields=id");
                    let seen = in_session(api, |session| {
                        let path = path.clone();
                        async move { session.get(&path).await }
                    })
                    .await;
                    match seen {
                        Ok(_) => PreflightCheck {
                            name,
                            ok: true,
                            detail: "the proxy user can read its defects".to_owned(),
                        },
                        Err(error) => PreflightCheck {
                            name,
                            ok: false,
                            detail: format!(
                                "the proxy user cannot see this domain and project ({error}): add the user to the project in Site Administration"
                            ),
                        },
                    }
                }
            };
            checks.push(check);
        }
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_split() {
        assert_eq!(
            split_project("DEFAULT/Example_Project").unwrap(),
            ("DEFAULT", "Example_Project")
        );
        assert!(split_project("DEFAULT").is_err());
        assert!(split_project("DEFAULT/a b").is_err());
        assert_eq!(
            split_issue("DEFAULT/P/20574").unwrap(),
            ("DEFAULT/P", "20574")
        );
        assert!(split_issue("DEFAULT/P/x").is_err());
    }

    #[test]
    fn entity_fields_read() {
        let value = entity(&[("id".to_owned(), "7".to_owned())]);
        assert_eq!(entity_field(&value, "id"), Some("7"));
        assert_eq!(entity_field(&value, "name"), None);
    }

    #[test]
    fn comment_appended_after_separator() {
        let first = append_comment("", "sync_proxy", "2024-05-02", "<p>one</p>");
        assert!(first.starts_with("<html><body><div"), "{first}");
        assert!(
            first.contains("<b>sync_proxy &lt;sync_proxy&gt;, 2024-05-02:</b>"),
            "{first}"
        );
        let second = append_comment(&first, "sync_proxy", "2024-05-03", "<p>two</p>");
        assert_eq!(second.matches(COMMENT_SEPARATOR).count(), 1, "{second}");
        assert!(second.ends_with("</div></body></html>"), "{second}");
        assert!(second.find("one").unwrap() < second.find("two").unwrap());
    }

    #[test]
    fn username_read_from_xml() {
        let xml = "<AuthenticationInfo><Username>alm_user1</Username></AuthenticationInfo>";
        assert_eq!(xml_text(xml, "Username").as_deref(), Some("alm_user1"));
    }
}
