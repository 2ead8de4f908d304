//! The fake HP ALM/QC server, mounted under `/hp-alm/qcbin`: the session sign-in (the
//! authentication point with HTTP Basic, then the site session), `is-authenticated`, defects
//! in ALM's JSON entity format (query with `last-modified`, order, paging; create; read;
//! update), and the audit log as XML.
//!
//! ALM sends no webhooks, so nothing is recorded in the outbox: every write adds an audit
//! record with the writing user and the changed properties, as the real server does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;

/// Configuration of the fake server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpAlmConfig {
    pub users: Vec<HpAlmUser>,
}

/// A site user, its password and the `DOMAIN/PROJECT`s it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpAlmUser {
    pub username: String,
    pub password: String,
    pub projects: Vec<String>,
}

impl HpAlmConfig {
    /// The demo server: the proxy user `sync_proxy` and the tester `tester_one`, both in
    /// `DEFAULT/Example_Project`; only the tester is also in `DEFAULT/Other_Project`.
    pub fn demo() -> Self {
        HpAlmConfig {
            users: vec![
                HpAlmUser {
                    username: "sync_proxy".to_owned(),
                    password: "sandbox-alm-password-proxy".to_owned(),
                    projects: vec!["DEFAULT/Example_Project".to_owned()],
                },
                HpAlmUser {
                    username: "tester_one".to_owned(),
                    password: "sandbox-alm-password-tester".to_owned(),
                    projects: vec![
                        "DEFAULT/Example_Project".to_owned(),
                        "DEFAULT/Other_Project".to_owned(),
                    ],
                },
            ],
        }
    }
}

/// A defect: its project, id and fields (names as in ALM's REST API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpAlmDefect {
    pub project: String,
    pub id: u64,
    pub fields: HashMap<String, String>,
}

impl HpAlmDefect {
    /// Returns a field, or "" when it is absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpAlmAudit {
    pub id: u64,
    pub project: String,
    pub parent_id: u64,
    pub action: String,
    pub time: String,
    pub user: String,
    /// (property name such as `BG_STATUS`, new value, old value).
    pub properties: Vec<(String, String, String)>,
}

/// The mutable state of the fake server.
#[derive(Debug, Default)]
pub(crate) struct AlmStore {
    defects: Vec<HpAlmDefect>,
    audits: Vec<HpAlmAudit>,
    /// `LWSSO_COOKIE_KEY` values to users.
    sso: HashMap<String, String>,
    /// `QCSession` values to (user, XSRF token).
    sessions: HashMap<String, (String, String)>,
    next_defect: u64,
    next_audit: u64,
}

impl AlmStore {
    /// Clears defects and audits; sessions stay open.
    pub(crate) fn reset(&mut self) {
        self.defects.clear();
        self.audits.clear();
    }

    /// Writes `fields` onto a defect (a new one when `id` is `None`) as `user`, with its audit
    /// record, and returns the defect's index.
    fn write(
        &mut self,
        user: &str,
        project: &str,
        id: Option<u64>,
        fields: HashMap<String, String>,
    ) -> Result<usize, String> {
        let now = alm_now();
        let (index, action) = match id {
            Some(id) => {
                let index = self
                    .defects
                    .iter()
                    .position(|d| d.project == project && d.id == id)
                    .ok_or_else(|| format!("Entity defect {id} not found"))?;
                (index, "UPDATE")
            }
            None => {
                self.next_defect += 1;
                let mut defect = HpAlmDefect {
                    project: project.to_owned(),
                    id: 1000 + self.next_defect,
                    fields: HashMap::new(),
                };
                defect.fields.insert("id".to_owned(), defect.id.to_string());
                defect
                    .fields
                    .insert("bug-ver-stamp".to_owned(), "0".to_owned());
                defect
                    .fields
                    .entry("detected-by".to_owned())
                    .or_insert_with(|| user.to_owned());
                self.defects.push(defect);
                (self.defects.len() - 1, "INSERT")
            }
        };
        let defect = &mut self.defects[index];
        let mut properties = Vec::new();
        for (name, value) in fields {
            let old = defect
                .fields
                .insert(name.clone(), value.clone())
                .unwrap_or_default();
            let property = match name.as_str() {
                "name" => "BG_SUMMARY",
                "description" => "BG_DESCRIPTION",
                "status" => "BG_STATUS",
                "dev-comments" => "BG_DEV_COMMENTS",
                "severity" => "BG_SEVERITY",
                _ => continue,
            };
            if old != value && action == "UPDATE" {
                properties.push((property.to_owned(), value, old));
            }
        }
        let version: u64 = defect.field("bug-ver-stamp").parse().unwrap_or(0) + 1;
        defect
            .fields
            .insert("bug-ver-stamp".to_owned(), version.to_string());
        defect
            .fields
            .insert("last-modified".to_owned(), now.clone());
        let parent_id = defect.id;
        self.next_audit += 1;
        self.audits.push(HpAlmAudit {
            id: self.next_audit,
            project: project.to_owned(),
            parent_id,
            action: action.to_owned(),
            time: now,
            user: user.to_owned(),
            properties,
        });
        Ok(index)
    }
}

fn alm_now() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// An error answer in ALM's shape, small enough to return in a `Result`.
struct AlmError {
    status: StatusCode,
    id: &'static str,
    title: String,
}

impl AlmError {
    fn new(status: StatusCode, id: &'static str, title: &str) -> Self {
        AlmError {
            status,
            id,
            title: title.to_owned(),
        }
    }
}

impl IntoResponse for AlmError {
    fn into_response(self) -> Response {
        exception(self.status, self.id, &self.title)
    }
}

fn exception(status: StatusCode, id: &str, title: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><QCRestException><Id>{id}</Id><Title>{}</Title></QCRestException>",
        escape(title)
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The default error body of an injected fault, in ALM's `QCRestException` shape as JSON text.
pub(crate) fn fault_body(status: StatusCode) -> Value {
    json!({"Id": "qccore.general-error", "Title": status.canonical_reason().unwrap_or("Error")})
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The signed-in user of a REST call; writes also need the session's `X-XSRF-TOKEN`.
fn session_user(app: &App, headers: &HeaderMap, write: bool) -> Result<String, AlmError> {
    let unauthorized = || {
        AlmError::new(
            StatusCode::UNAUTHORIZED,
            "qccore.session-has-expired",
            "Session has expired or you are not signed in",
        )
    };
    let shared = app.lock();
    let store = &shared.hp_alm;
    let sso_user = cookie(headers, "LWSSO_COOKIE_KEY")
        .and_then(|key| store.sso.get(&key).cloned())
        .ok_or_else(unauthorized)?;
    let (user, xsrf) = cookie(headers, "QCSession")
        .and_then(|key| store.sessions.get(&key).cloned())
        .ok_or_else(unauthorized)?;
    if user != sso_user {
        return Err(unauthorized());
    }
    if write {
        let sent = headers
            .get("x-xsrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if sent != xsrf {
            return Err(AlmError::new(
                StatusCode::UNAUTHORIZED,
                "qccore.xsrf-token-invalid",
                "The X-XSRF-TOKEN header is missing or invalid",
            ));
        }
    }
    Ok(user)
}

fn member(app: &App, user: &str, project: &str) -> Result<(), AlmError> {
    let allowed = app
        .config
        .hp_alm
        .users
        .iter()
        .any(|u| u.username == user && u.projects.iter().any(|p| p == project));
    if allowed {
        Ok(())
    } else {
        Err(AlmError::new(
            StatusCode::FORBIDDEN,
            "qccore.project-access-denied",
            &format!("User {user} is not assigned to project {project}"),
        ))
    }
}

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/qcbin/authentication-point/authenticate",
            get(authenticate),
        )
        .route("/qcbin/rest/site-session", post(site_session))
        .route("/qcbin/rest/is-authenticated", get(is_authenticated))
        .route(
            "/qcbin/rest/domains/{domain}/projects/{project}/defects",
            get(query).post(create),
        )
        .route(
            "/qcbin/rest/domains/{domain}/projects/{project}/defects/{id}",
            get(read).put(update),
        )
        .route(
            "/qcbin/rest/domains/{domain}/projects/{project}/audits",
            get(audits),
        )
}

async fn authenticate(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| BASE64.decode(v.trim()).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default();
    let (user, password) = credentials.split_once(':').unwrap_or_default();
    let known = app
        .config
        .hp_alm
        .users
        .iter()
        .any(|u| u.username == user && u.password == password);
    if !known {
        return exception(
            StatusCode::UNAUTHORIZED,
            "qccore.authentication-failed",
            "Authentication failed",
        );
    }
    let key = uuid::Uuid::new_v4().simple().to_string();
    app.lock().hp_alm.sso.insert(key.clone(), user.to_owned());
    (
        StatusCode::OK,
        [(
            header::SET_COOKIE,
            format!("LWSSO_COOKIE_KEY={key}; Path=/; HttpOnly"),
        )],
    )
        .into_response()
}

async fn site_session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut shared = app.lock();
    let store = &mut shared.hp_alm;
    let Some(user) =
        cookie(&headers, "LWSSO_COOKIE_KEY").and_then(|key| store.sso.get(&key).cloned())
    else {
        return exception(
            StatusCode::UNAUTHORIZED,
            "qccore.session-has-expired",
            "Authenticate first",
        );
    };
    let session = uuid::Uuid::new_v4().simple().to_string();
    let xsrf = uuid::Uuid::new_v4().simple().to_string();
    store
        .sessions
        .insert(session.clone(), (user.clone(), xsrf.clone()));
    let mut response = StatusCode::CREATED.into_response();
    for value in [
        format!("QCSession={session}; Path=/; HttpOnly"),
        format!("ALM_USER={user}; Path=/"),
        format!("XSRF-TOKEN={xsrf}; Path=/"),
    ] {
        if let Ok(value) = value.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn is_authenticated(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match session_user(&app, &headers, false) {
        Ok(user) => (
            [(header::CONTENT_TYPE, "application/xml")],
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><AuthenticationInfo><Username>{}</Username></AuthenticationInfo>", escape(&user)),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

fn entity_json(defect: &HpAlmDefect, fields: Option<&[&str]>) -> Value {
    let mut names: Vec<&String> = defect.fields.keys().collect();
    names.sort();
    let list: Vec<Value> = names
        .into_iter()
        .filter(|name| fields.is_none_or(|wanted| wanted.contains(&name.as_str())))
        .map(|name| json!({"Name": name, "values": [{"value": defect.fields[name]}]}))
        .collect();
    json!({"Type": "defect", "Fields": list})
}

fn fields_of(body: &Bytes) -> Result<HashMap<String, String>, AlmError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        AlmError::new(
            StatusCode::BAD_REQUEST,
            "qccore.invalid-entity",
            "The request body is not a JSON entity",
        )
    })?;
    let mut fields = HashMap::new();
    for field in value
        .get("Fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = field
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let text = field
            .pointer("/values/0/value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !name.is_empty() {
            fields.insert(name, text);
        }
    }
    Ok(fields)
}

/// Reads `last-modified[>="..."]` out of an ALM query.
fn since(query: &str) -> Option<String> {
    let start = query.find("last-modified[>=\"")? + "last-modified[>=\"".len();
    let rest = &query[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

async fn query(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((domain, project)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let project = format!("{domain}/{project}");
    let user = match session_user(&app, &headers, false) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = member(&app, &user, &project) {
        return error.into_response();
    }
    let from = params
        .get("query")
        .and_then(|q| since(q))
        .unwrap_or_default();
    let page_size: usize = params
        .get("page-size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let start: usize = params
        .get("start-index")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let wanted: Option<Vec<&str>> = params.get("fields").map(|f| f.split(',').collect());
    let shared = app.lock();
    let mut matching: Vec<&HpAlmDefect> = shared
        .hp_alm
        .defects
        .iter()
        .filter(|d| d.project == project && d.field("last-modified") >= from.as_str())
        .collect();
    matching
        .sort_by(|a, b| (a.field("last-modified"), a.id).cmp(&(b.field("last-modified"), b.id)));
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(start - 1)
        .take(page_size)
        .map(|d| entity_json(d, wanted.as_deref()))
        .collect();
    axum::Json(json!({"entities": page, "TotalResults": total})).into_response()
}

async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((domain, project)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let project = format!("{domain}/{project}");
    let user = match session_user(&app, &headers, true) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = member(&app, &user, &project) {
        return error.into_response();
    }
    let fields = match fields_of(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    for required in ["name", "severity", "detected-by", "creation-time"] {
        if fields.get(required).is_none_or(String::is_empty) {
            return exception(
                StatusCode::BAD_REQUEST,
                "qccore.required-field-missing",
                &format!("Required field '{required}' is missing."),
            );
        }
    }
    let mut shared = app.lock();
    match shared.hp_alm.write(&user, &project, None, fields) {
        Ok(index) => (
            StatusCode::CREATED,
            axum::Json(entity_json(&shared.hp_alm.defects[index], None)),
        )
            .into_response(),
        Err(message) => exception(StatusCode::NOT_FOUND, "qccore.entity-not-found", &message),
    }
}

async fn read(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((domain, project, id)): Path<(String, String, u64)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let project = format!("{domain}/{project}");
    let user = match session_user(&app, &headers, false) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = member(&app, &user, &project) {
        return error.into_response();
    }
    let wanted: Option<Vec<&str>> = params.get("fields").map(|f| f.split(',').collect());
    let shared = app.lock();
    match shared
        .hp_alm
        .defects
        .iter()
        .find(|d| d.project == project && d.id == id)
    {
        Some(defect) => axum::Json(entity_json(defect, wanted.as_deref())).into_response(),
        None => exception(
            StatusCode::NOT_FOUND,
            "qccore.entity-not-found",
            &format!("Entity defect {id} not found"),
        ),
    }
}

async fn update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((domain, project, id)): Path<(String, String, u64)>,
    body: Bytes,
) -> Response {
    let project = format!("{domain}/{project}");
    let user = match session_user(&app, &headers, true) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = member(&app, &user, &project) {
        return error.into_response();
    }
    let fields = match fields_of(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let mut shared = app.lock();
    match shared.hp_alm.write(&user, &project, Some(id), fields) {
        Ok(index) => axum::Json(entity_json(&shared.hp_alm.defects[index], None)).into_response(),
        Err(message) => exception(StatusCode::NOT_FOUND, "qccore.entity-not-found", &message),
    }
}

async fn audits(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((domain, project)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let project = format!("{domain}/{project}");
    let user = match session_user(&app, &headers, false) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = member(&app, &user, &project) {
        return error.into_response();
    }
    let query = params.get("query").cloned().unwrap_or_default();
    let parent: Option<u64> = query.find("parent-id[").and_then(|at| {
        query[at + "parent-id[".len()..]
            .split(']')
            .next()
            .and_then(|v| v.parse().ok())
    });
    let shared = app.lock();
    let mut xml = String::new();
    let records: Vec<&HpAlmAudit> = shared
        .hp_alm
        .audits
        .iter()
        .filter(|a| a.project == project && parent.is_none_or(|p| a.parent_id == p))
        .collect();
    for audit in &records {
        let mut properties = String::new();
        for (name, new, old) in &audit.properties {
            properties.push_str(&format!(
                "<Property Name=\"{name}\"><NewValue>{}</NewValue><OldValue>{}</OldValue></Property>",
                escape(new),
                escape(old)
            ));
        }
        xml.push_str(&format!(
            "<Audit><Id>{}</Id><Action>{}</Action><ParentId>{}</ParentId><ParentType>defect</ParentType><Time>{}</Time><User>{}</User><Properties>{properties}</Properties></Audit>",
            audit.id, audit.action, audit.parent_id, audit.time, escape(&audit.user)
        ));
    }
    (
        [(header::CONTENT_TYPE, "application/xml")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Audits TotalResults=\"{}\">{xml}</Audits>", records.len()),
    )
        .into_response()
}

/// Test controls of the fake server, from [`crate::Sandbox::hp_alm`].
pub struct HpAlmControl<'a> {
    pub(crate) app: &'a App,
}

impl HpAlmControl<'_> {
    /// Creates a defect as `user` in `project` and returns its id, as a tester in ALM's client would.
    pub fn create_defect(&self, user: &str, project: &str, fields: &[(&str, &str)]) -> u64 {
        let mut values: HashMap<String, String> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        values
            .entry("status".to_owned())
            .or_insert_with(|| "New".to_owned());
        values
            .entry("severity".to_owned())
            .or_insert_with(|| "2-Medium".to_owned());
        let mut shared = self.app.lock();
        let index = shared
            .hp_alm
            .write(user, project, None, values)
            .expect("create a defect");
        shared.hp_alm.defects[index].id
    }

    /// Changes fields of a defect as `user`.
    ///
    /// # Panics
    /// When the defect does not exist.
    pub fn edit_defect(&self, user: &str, project: &str, id: u64, fields: &[(&str, &str)]) {
        let values = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.app
            .lock()
            .hp_alm
            .write(user, project, Some(id), values)
            .expect("edit a defect");
    }

    /// Deletes a defect, as a user with delete permission does in ALM's client; its audit
    /// records stay.
    ///
    /// # Panics
    /// When the defect does not exist.
    pub fn delete_defect(&self, project: &str, id: u64) {
        let mut shared = self.app.lock();
        let defects = &mut shared.hp_alm.defects;
        let index = defects
            .iter()
            .position(|d| d.project == project && d.id == id)
            .unwrap_or_else(|| panic!("no sandbox defect {id} in {project}"));
        defects.remove(index);
    }

    /// Returns a copy of every defect, in creation order.
    pub fn defects(&self) -> Vec<HpAlmDefect> {
        self.app.lock().hp_alm.defects.clone()
    }

    /// Returns a copy of the audit log, oldest first.
    pub fn audits(&self) -> Vec<HpAlmAudit> {
        self.app.lock().hp_alm.audits.clone()
    }

    /// Ends every open session, as an idle timeout on the server would.
    pub fn expire_sessions(&self) {
        let mut shared = self.app.lock();
        shared.hp_alm.sso.clear();
        shared.hp_alm.sessions.clear();
    }
}
