//! Round trips between two sandbox trackers connected both ways. A person changes an issue on
//! one side through the tracker's REST API, or through the sandbox's controls for HP ALM/QC.
//! The recorded webhooks and an HP ALM/QC poll go through the pipeline. The checks then
//! compare both sides and count the writes that the proxy users' own webhooks cause.

use std::time::Duration;

use proxysync_core::model::TrackerKind;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::trackers::hp_alm;
use proxysync_core::trackers::hp_alm::poll::{self, ProjectReport};
use proxysync_formats::{adf_to_markdown, canonical_markdown, html_to_markdown, wiki_to_markdown};
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::Stack;
use crate::peers::{call, endpoint, outcomes};

/// The connection id of every round trip.
pub const CONNECTION: &str = "round-trip";
/// The endpoint URL token of the Salesforce instance.
const SALESFORCE_TOKEN: &str = "sandbox-salesforce-endpoint-token-0123456789";
/// The HP ALM/QC user who plays the person.
const ALM_TESTER: &str = "tester_one";
/// Path prefixes of sign-in and token calls, which are not writes to issues.
const SIGN_IN_PATHS: [&str; 4] = [
    "/oauth_token.do",
    "/services/oauth2/token",
    "/authentication-point/",
    "/rest/site-session",
];

/// A tracker of the sandbox, with the instance and the project that round trips use on it.
///
/// The GitHub repository and Jira Cloud project differ from the stack's default connection,
/// so that connection stays out of the round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Servicenow,
    AzureDevops,
    Zendesk,
    JiraDc,
    Salesforce,
    HpAlm,
    Github,
    JiraCloud,
}

impl Peer {
    /// Returns the instance id, as in [`crate::peers::INSTANCES`] for the trackers listed there.
    pub fn instance(self) -> &'static str {
        match self {
            Peer::Servicenow => "acme-snow",
            Peer::AzureDevops => "acme-azure",
            Peer::Zendesk => "acme-zendesk",
            Peer::JiraDc => "acme-jira-dc",
            Peer::Salesforce => "acme-salesforce",
            Peer::HpAlm => "acme-alm",
            Peer::Github => "acme-github",
            Peer::JiraCloud => "acme-jira",
        }
    }

    /// Returns the connected project: a table, project name, group id, sObject type or
    /// repository.
    pub fn project(self) -> &'static str {
        match self {
            Peer::Servicenow => "incident",
            Peer::AzureDevops => "Web Shop",
            Peer::Zendesk => "360001",
            Peer::JiraDc => "OPS",
            Peer::Salesforce => "Case",
            Peer::HpAlm => "DEFAULT/Example_Project",
            Peer::Github => "acme/secret-plans",
            Peer::JiraCloud => "HR",
        }
    }

    /// Returns the tracker's name in [`RecordedWebhook::tracker`](tracker_sandbox::RecordedWebhook),
    /// `None` for HP ALM/QC, which sends no webhooks.
    pub fn webhook_name(self) -> Option<&'static str> {
        match self {
            Peer::Servicenow => Some("servicenow"),
            Peer::AzureDevops => Some("azure-devops"),
            Peer::Zendesk => Some("zendesk"),
            Peer::JiraDc => Some("jira-dc"),
            Peer::Salesforce => Some("salesforce"),
            Peer::HpAlm => None,
            Peer::Github => Some("github"),
            Peer::JiraCloud => Some("jira"),
        }
    }

    /// Returns whether a person can change the description after creation. Zendesk's description is
    /// the ticket's first comment, which neither the API nor the agent's view can edit.
    pub fn edits_description(self) -> bool {
        self != Peer::Zendesk
    }
}

/// One side's issue as shown to a person, with text converted to Markdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub title: String,
    pub description: String,
    pub closed: bool,
    /// Comment bodies, journal entries or notes, in Markdown (HP ALM/QC: the whole
    /// `dev-comments` field as one entry).
    pub comments: Vec<String>,
}

impl Snapshot {
    /// Counts the occurrences of `text` in all comments together.
    pub fn comment_count(&self, text: &str) -> usize {
        self.comments
            .iter()
            .map(|comment| comment.matches(text).count())
            .sum()
    }

    /// Returns the comments that contain `text`.
    pub fn comments_with(&self, text: &str) -> Vec<&String> {
        self.comments
            .iter()
            .filter(|comment| comment.contains(text))
            .collect()
    }
}

/// A person's edit of an issue.
#[derive(Clone, Copy, Debug)]
pub struct Edit<'a> {
    pub title: &'a str,
    /// Skipped where [`Peer::edits_description`] is false.
    pub description: &'a str,
    pub closed: bool,
}

/// What one delivery round caused.
#[derive(Clone, Debug, Default)]
pub struct Round {
    /// One entry per delivered event, as [`outcomes`] lists them.
    pub outcomes: Vec<String>,
    /// The HP ALM/QC poll of the round, when HP ALM/QC is one of the peers.
    pub polls: Vec<ProjectReport>,
}

impl Round {
    /// Returns true when some outcome equals `outcome`.
    pub fn has(&self, outcome: &str) -> bool {
        self.outcomes.iter().any(|o| o == outcome)
    }

    /// Returns the number of changes the HP ALM/QC poll synced.
    pub fn polled_synced(&self) -> usize {
        self.polls.iter().map(|report| report.synced).sum()
    }
}

/// A stack with two connected peers and the people who work on them.
pub struct RoundTrip {
    pub stack: Stack,
    pub peers: [Peer; 2],
    http: reqwest::Client,
    /// The access token of the Salesforce person, when Salesforce is a peer.
    salesforce_person_token: Option<String>,
}

impl RoundTrip {
    /// Starts a stack, registers both peers and connects their projects both ways.
    pub async fn start(a: Peer, b: Peer) -> RoundTrip {
        assert_ne!(a, b, "a round trip needs two different trackers");
        let stack = Stack::start().await;
        let mut salesforce_person_token = None;
        for peer in [a, b] {
            register(&stack, peer).await;
            if peer == Peer::Salesforce {
                let person = stack.sandbox_config.salesforce.users[1].username.clone();
                salesforce_person_token = Some(salesforce_access_token(&stack, &person).await);
            }
        }
        stack
            .add_connection(
                CONNECTION,
                endpoint(a.instance(), a.project()),
                endpoint(b.instance(), b.project()),
            )
            .await;
        RoundTrip {
            stack,
            peers: [a, b],
            http: reqwest::Client::new(),
            salesforce_person_token,
        }
    }

    /// Creates an open issue on `peer` as a person and returns its handle (the id the
    /// tracker's API uses: sys_id, work item id, ticket id, key, record id or number).
    pub async fn create(&self, peer: Peer, title: &str, description: &str) -> String {
        let stack = &self.stack;
        match peer {
            Peer::Servicenow => {
                let body = json!({"short_description": title, "description": description});
                let answer = self
                    .servicenow(Method::POST, "/api/now/table/incident", body)
                    .await;
                text(&answer["result"]["sys_id"])
            }
            Peer::AzureDevops => {
                let patch = json!([
                    {"op": "add", "path": "/fields/System.Title", "value": title},
                    {"op": "add", "path": "/fields/System.Description", "value": paragraphs_html(description)},
                ]);
                let path = "/Web%20Shop/_apis/wit/workitems/$Task?api-version=7.1";
                let answer = self.azure_devops(Method::POST, path, patch).await;
                text(&answer["id"])
            }
            Peer::Zendesk => {
                let ticket = json!({"ticket": {
                    "subject": title,
                    "comment": {"body": description},
                    "group_id": peer.project().parse::<u64>().unwrap(),
                }});
                let answer = self.zendesk(Method::POST, "/api/v2/tickets", ticket).await;
                text(&answer["ticket"]["id"])
            }
            Peer::JiraDc => {
                let fields = json!({"fields": {
                    "project": {"key": peer.project()},
                    "issuetype": {"name": "Task"},
                    "summary": title,
                    "description": description,
                }});
                let answer = self
                    .jira_dc(Method::POST, "/rest/api/2/issue", fields)
                    .await;
                text(&answer["key"])
            }
            Peer::Salesforce => {
                let case = json!({"Subject": title, "Description": description, "Status": "New"});
                let answer = self
                    .salesforce(Method::POST, "/services/data/v60.0/sobjects/Case/", case)
                    .await;
                text(&answer["id"])
            }
            Peer::HpAlm => {
                let html = format!("<html><body>{}</body></html>", paragraphs_html(description));
                let id = stack.sandbox.hp_alm().create_defect(
                    ALM_TESTER,
                    peer.project(),
                    &[
                        ("name", title),
                        ("description", &html),
                        ("detected-by", ALM_TESTER),
                    ],
                );
                id.to_string()
            }
            Peer::Github => {
                let path = format!("/repos/{}/issues", peer.project());
                let issue = json!({"title": title, "body": description});
                let answer = stack.human().github(Method::POST, &path, Some(issue)).await;
                text(&answer["number"])
            }
            Peer::JiraCloud => {
                let fields = json!({"fields": {
                    "project": {"key": peer.project()},
                    "issuetype": {"name": "Task"},
                    "summary": title,
                    "description": paragraphs_adf(description),
                }});
                let answer = stack
                    .human()
                    .jira(Method::POST, "/rest/api/3/issue", Some(fields))
                    .await;
                text(&answer["key"])
            }
        }
    }

    /// Changes the title, the description (where the tracker allows it) and the state of an
    /// issue as a person, in one save where the tracker's API allows it.
    pub async fn edit(&self, peer: Peer, id: &str, edit: Edit<'_>) {
        let stack = &self.stack;
        match peer {
            Peer::Servicenow => {
                let mut fields = json!({
                    "short_description": edit.title,
                    "description": edit.description,
                    "state": if edit.closed { "6" } else { "2" },
                });
                if edit.closed {
                    fields["close_code"] = json!("Solved (Permanently)");
                    fields["close_notes"] = json!("Fixed by the agent.");
                }
                let path = format!("/api/now/table/incident/{id}");
                self.servicenow(Method::PATCH, &path, fields).await;
            }
            Peer::AzureDevops => {
                let patch = json!([
                    {"op": "add", "path": "/fields/System.Title", "value": edit.title},
                    {"op": "add", "path": "/fields/System.Description", "value": paragraphs_html(edit.description)},
                    {"op": "add", "path": "/fields/System.State", "value": if edit.closed { "Closed" } else { "Active" }},
                ]);
                let path = format!("/_apis/wit/workitems/{id}?api-version=7.1");
                self.azure_devops(Method::PATCH, &path, patch).await;
            }
            Peer::Zendesk => {
                let status = if edit.closed { "solved" } else { "open" };
                let ticket = json!({"ticket": {"subject": edit.title, "status": status}});
                let path = format!("/api/v2/tickets/{id}");
                self.zendesk(Method::PUT, &path, ticket).await;
            }
            Peer::JiraDc => {
                let path = format!("/rest/api/2/issue/{id}");
                let fields =
                    json!({"fields": {"summary": edit.title, "description": edit.description}});
                self.jira_dc(Method::PUT, &path, fields).await;
                let transition = json!({"transition": {"id": jira_transition(edit.closed)}});
                self.jira_dc(Method::POST, &format!("{path}/transitions"), transition)
                    .await;
            }
            Peer::Salesforce => {
                let case = json!({
                    "Subject": edit.title,
                    "Description": edit.description,
                    "Status": if edit.closed { "Closed" } else { "Working" },
                });
                let path = format!("/services/data/v60.0/sobjects/Case/{id}");
                self.salesforce(Method::PATCH, &path, case).await;
            }
            Peer::HpAlm => {
                let html = format!(
                    "<html><body>{}</body></html>",
                    paragraphs_html(edit.description)
                );
                let status = if edit.closed { "Closed" } else { "Open" };
                stack.sandbox.hp_alm().edit_defect(
                    ALM_TESTER,
                    peer.project(),
                    id.parse().unwrap(),
                    &[
                        ("name", edit.title),
                        ("description", &html),
                        ("status", status),
                    ],
                );
            }
            Peer::Github => {
                let path = format!("/repos/{}/issues/{id}", peer.project());
                let state = if edit.closed { "closed" } else { "open" };
                let issue = json!({"title": edit.title, "body": edit.description, "state": state});
                stack
                    .human()
                    .github(Method::PATCH, &path, Some(issue))
                    .await;
            }
            Peer::JiraCloud => {
                let path = format!("/rest/api/3/issue/{id}");
                let fields = json!({"fields": {
                    "summary": edit.title,
                    "description": paragraphs_adf(edit.description),
                }});
                let human = stack.human();
                human.jira(Method::PUT, &path, Some(fields)).await;
                let transition = json!({"transition": {"id": jira_transition(edit.closed)}});
                human
                    .jira(
                        Method::POST,
                        &format!("{path}/transitions"),
                        Some(transition),
                    )
                    .await;
            }
        }
    }

    /// Adds a plain-text comment to an issue as a person (on ServiceNow a customer-visible
    /// comment, on Zendesk a public reply).
    pub async fn comment(&self, peer: Peer, id: &str, body: &str) {
        let stack = &self.stack;
        match peer {
            Peer::Servicenow => {
                let path = format!("/api/now/table/incident/{id}");
                self.servicenow(Method::PATCH, &path, json!({"comments": body}))
                    .await;
            }
            Peer::AzureDevops => {
                let path = format!(
                    "/Web%20Shop/_apis/wit/workItems/{id}/comments?api-version=7.1-preview.4"
                );
                let comment = json!({"text": paragraphs_html(body)});
                self.azure_devops(Method::POST, &path, comment).await;
            }
            Peer::Zendesk => {
                let ticket = json!({"ticket": {"comment": {"body": body, "public": true}}});
                let path = format!("/api/v2/tickets/{id}");
                self.zendesk(Method::PUT, &path, ticket).await;
            }
            Peer::JiraDc => {
                let path = format!("/rest/api/2/issue/{id}/comment");
                self.jira_dc(Method::POST, &path, json!({"body": body}))
                    .await;
            }
            Peer::Salesforce => {
                let comment = json!({"ParentId": id, "CommentBody": body});
                let path = "/services/data/v60.0/sobjects/CaseComment/";
                self.salesforce(Method::POST, path, comment).await;
            }
            Peer::HpAlm => {
                let alm = stack.sandbox.hp_alm();
                let id: u64 = id.parse().unwrap();
                let defect = alm
                    .defects()
                    .into_iter()
                    .find(|defect| defect.id == id)
                    .unwrap_or_else(|| panic!("no HP ALM/QC defect {id}"));
                let comments = hp_alm::append_comment(
                    defect.field("dev-comments"),
                    ALM_TESTER,
                    "2026-12-04",
                    &paragraphs_html(body),
                );
                alm.edit_defect(
                    ALM_TESTER,
                    peer.project(),
                    id,
                    &[("dev-comments", &comments)],
                );
            }
            Peer::Github => {
                let path = format!("/repos/{}/issues/{id}/comments", peer.project());
                stack
                    .human()
                    .github(Method::POST, &path, Some(json!({"body": body})))
                    .await;
            }
            Peer::JiraCloud => {
                let path = format!("/rest/api/3/issue/{id}/comment");
                stack
                    .human()
                    .jira(
                        Method::POST,
                        &path,
                        Some(json!({"body": paragraphs_adf(body)})),
                    )
                    .await;
            }
        }
    }

    /// Returns the handle of the one issue in `peer`'s connected project.
    ///
    /// # Panics
    /// When the project has no issue or more than one.
    pub fn only_issue(&self, peer: Peer) -> String {
        let sandbox = &self.stack.sandbox;
        let project = peer.project();
        let ids: Vec<String> = match peer {
            Peer::Servicenow => sandbox
                .servicenow()
                .records()
                .into_iter()
                .filter(|record| record.table == project)
                .map(|record| record.sys_id)
                .collect(),
            Peer::AzureDevops => sandbox
                .azure_devops_state()
                .work_items
                .into_iter()
                .filter(|item| item.project == project)
                .map(|item| item.id.to_string())
                .collect(),
            Peer::Zendesk => sandbox
                .zendesk_state()
                .tickets
                .into_iter()
                .filter(|ticket| ticket.group_id.map(|g| g.to_string()).as_deref() == Some(project))
                .map(|ticket| ticket.id.to_string())
                .collect(),
            Peer::JiraDc => sandbox
                .jira_dc_state()
                .issues
                .into_iter()
                .filter(|issue| issue.project_key == project)
                .map(|issue| issue.key)
                .collect(),
            Peer::Salesforce => sandbox
                .salesforce()
                .records()
                .into_iter()
                .filter(|record| record.sobject_type == project)
                .map(|record| record.id)
                .collect(),
            Peer::HpAlm => sandbox
                .hp_alm()
                .defects()
                .into_iter()
                .filter(|defect| defect.project == project)
                .map(|defect| defect.id.to_string())
                .collect(),
            Peer::Github => sandbox
                .state()
                .github
                .issues
                .into_iter()
                .filter(|issue| issue.repo == project)
                .map(|issue| issue.number.to_string())
                .collect(),
            Peer::JiraCloud => sandbox
                .state()
                .jira
                .issues
                .into_iter()
                .filter(|issue| issue.project_key == project)
                .map(|issue| issue.key)
                .collect(),
        };
        assert_eq!(
            ids.len(),
            1,
            "expected one issue in {peer:?} project {project}, found {ids:?}"
        );
        ids.into_iter().next().unwrap()
    }

    /// Reads an issue and its comments from the sandbox, converted to Markdown.
    pub fn read(&self, peer: Peer, id: &str) -> Snapshot {
        let sandbox = &self.stack.sandbox;
        match peer {
            Peer::Servicenow => {
                let control = sandbox.servicenow();
                let record = control
                    .records()
                    .into_iter()
                    .find(|record| record.sys_id == id)
                    .unwrap_or_else(|| panic!("no ServiceNow record {id}"));
                let comments = control
                    .journal()
                    .into_iter()
                    .filter(|entry| entry.element_id == id)
                    .map(|entry| entry.value)
                    .collect();
                Snapshot {
                    title: record.field("short_description").to_owned(),
                    description: record.field("description").to_owned(),
                    // Resolved, Closed and Canceled.
                    closed: ["6", "7", "8"].contains(&record.field("state")),
                    comments,
                }
            }
            Peer::AzureDevops => {
                let state = sandbox.azure_devops_state();
                let item = state
                    .work_items
                    .iter()
                    .find(|item| item.id.to_string() == id)
                    .unwrap_or_else(|| panic!("no Azure DevOps work item {id}"));
                Snapshot {
                    title: item.title.clone(),
                    description: html_to_markdown(&item.description),
                    closed: ["Closed", "Done", "Resolved", "Removed"]
                        .contains(&item.state.as_str()),
                    comments: state
                        .comments
                        .iter()
                        .filter(|comment| comment.work_item_id == item.id)
                        .map(|comment| html_to_markdown(&comment.text))
                        .collect(),
                }
            }
            Peer::Zendesk => {
                let state = sandbox.zendesk_state();
                let ticket = state
                    .tickets
                    .iter()
                    .find(|ticket| ticket.id.to_string() == id)
                    .unwrap_or_else(|| panic!("no Zendesk ticket {id}"));
                Snapshot {
                    title: ticket.subject.clone(),
                    description: ticket.description.clone(),
                    closed: ["solved", "closed"].contains(&ticket.status.as_str()),
                    // The first comment is the description.
                    comments: state
                        .comments
                        .iter()
                        .filter(|comment| comment.ticket_id == ticket.id)
                        .skip(1)
                        .map(|comment| comment.body.clone())
                        .collect(),
                }
            }
            Peer::JiraDc => {
                let state = sandbox.jira_dc_state();
                let issue = state
                    .issues
                    .iter()
                    .find(|issue| issue.key == id)
                    .unwrap_or_else(|| panic!("no Jira Data Center issue {id}"));
                Snapshot {
                    title: issue.summary.clone(),
                    description: wiki_to_markdown(issue.description.as_deref().unwrap_or("")),
                    closed: issue.status == "Done",
                    comments: state
                        .comments
                        .iter()
                        .filter(|comment| comment.issue_id == issue.id)
                        .map(|comment| wiki_to_markdown(&comment.body))
                        .collect(),
                }
            }
            Peer::Salesforce => {
                let records = sandbox.salesforce().records();
                let case = records
                    .iter()
                    .find(|record| record.id == id)
                    .unwrap_or_else(|| panic!("no Salesforce Case {id}"));
                Snapshot {
                    title: case.field("Subject").to_owned(),
                    description: case.field("Description").to_owned(),
                    closed: case.field("Status") == "Closed",
                    comments: records
                        .iter()
                        .filter(|r| r.sobject_type == "CaseComment" && r.field("ParentId") == id)
                        .map(|r| r.field("CommentBody").to_owned())
                        .collect(),
                }
            }
            Peer::HpAlm => {
                let defect = sandbox
                    .hp_alm()
                    .defects()
                    .into_iter()
                    .find(|defect| defect.id.to_string() == id)
                    .unwrap_or_else(|| panic!("no HP ALM/QC defect {id}"));
                Snapshot {
                    title: defect.field("name").to_owned(),
                    description: html_to_markdown(defect.field("description")),
                    closed: defect.field("status") == "Closed",
                    comments: vec![html_to_markdown(defect.field("dev-comments"))],
                }
            }
            Peer::Github => {
                let github = sandbox.state().github;
                let issue = github
                    .issues
                    .iter()
                    .find(|issue| issue.repo == peer.project() && issue.number.to_string() == id)
                    .unwrap_or_else(|| panic!("no GitHub issue {id}"));
                Snapshot {
                    title: issue.title.clone(),
                    description: issue.body.clone().unwrap_or_default(),
                    closed: issue.state == "closed",
                    comments: github
                        .comments
                        .iter()
                        .filter(|c| c.repo == issue.repo && c.issue_number == issue.number)
                        .map(|c| c.body.clone())
                        .collect(),
                }
            }
            Peer::JiraCloud => {
                let jira = sandbox.state().jira;
                let issue = jira
                    .issues
                    .iter()
                    .find(|issue| issue.key == id)
                    .unwrap_or_else(|| panic!("no Jira issue {id}"));
                Snapshot {
                    title: issue.summary.clone(),
                    description: issue
                        .description
                        .as_ref()
                        .map(adf_to_markdown)
                        .unwrap_or_default(),
                    closed: issue.status == "Done",
                    comments: jira
                        .comments
                        .iter()
                        .filter(|comment| comment.issue_id == issue.id)
                        .map(|comment| adf_to_markdown(&comment.body))
                        .collect(),
                }
            }
        }
    }

    /// Polls HP ALM/QC when it is a peer, then delivers the webhooks recorded before the
    /// round to their instances. The round's own writes wait for the next round: the webhooks
    /// they record, and the HP ALM/QC changes they make after the poll.
    pub async fn deliver(&self) -> Round {
        let stack = &self.stack;
        let webhooks = stack.sandbox.take_webhooks();
        let mut polls = Vec::new();
        if self.peers.contains(&Peer::HpAlm) {
            let deadline = Instant::now() + Duration::from_secs(20);
            polls = poll::poll_all(&stack.pipeline, deadline)
                .await
                .expect("poll HP ALM/QC");
            for report in &polls {
                assert_eq!(report.outcome, "polled", "{report:?}");
            }
        }
        let mut answers = Vec::new();
        for webhook in webhooks {
            let answer = match webhook.tracker.as_str() {
                "servicenow" => {
                    stack
                        .deliver_raw(
                            "servicenow",
                            Peer::Servicenow.instance(),
                            webhook.headers.clone(),
                            webhook.body.clone(),
                        )
                        .await
                }
                "salesforce" => {
                    let request = InboundRequest {
                        headers: webhook.headers.clone(),
                        query: vec![("token".to_owned(), SALESFORCE_TOKEN.to_owned())],
                        body: webhook.body.clone(),
                    };
                    stack
                        .deliver_request("salesforce", Peer::Salesforce.instance(), request)
                        .await
                }
                _ => stack.deliver_any(&webhook).await,
            };
            answers.push((webhook.tracker.clone(), answer));
        }
        Round {
            outcomes: outcomes(&answers),
            polls,
        }
    }

    /// Counts the write requests (POST, PUT, PATCH, DELETE) that the sandbox received, without
    /// sign-in and token calls.
    pub fn writes(&self) -> usize {
        self.stack
            .sandbox
            .requests()
            .iter()
            .filter(|request| request.method != "GET" && request.method != "HEAD")
            .filter(|request| !SIGN_IN_PATHS.iter().any(|p| request.path.contains(p)))
            .count()
    }

    /// Delivers the webhooks that the proxy users' writes recorded (and polls HP ALM/QC), and
    /// checks that they are all skipped, write nothing and record no further webhook.
    pub async fn assert_no_ping_pong(&self) -> Round {
        let before = self.writes();
        let round = self.deliver().await;
        let polled: usize = round.polls.iter().map(|report| report.changes).sum();
        assert!(
            !round.outcomes.is_empty() || polled > 0,
            "the proxy users' writes recorded no webhook and no HP ALM/QC change, so nothing was checked"
        );
        for outcome in &round.outcomes {
            assert!(
                outcome.ends_with(":skipped:proxy_author") || outcome.ends_with(":ignored"),
                "a proxy user's change was not skipped: {outcome} (all: {:?})",
                round.outcomes
            );
        }
        for report in &round.polls {
            assert_eq!(report.synced, 0, "{report:?}");
            assert_eq!(report.parked, 0, "{report:?}");
        }
        assert_eq!(
            self.writes(),
            before,
            "delivering the proxy users' own changes wrote to a tracker: {:?}",
            round.outcomes
        );
        let more = self.stack.sandbox.take_webhooks();
        assert!(
            more.is_empty(),
            "new webhooks after the echo round: {more:?}"
        );
        round
    }

    async fn servicenow(&self, method: Method, path: &str, body: Value) -> Value {
        let person = &self.stack.sandbox_config.servicenow.users[1];
        let request = self
            .http
            .request(
                method,
                format!("{}{path}", self.stack.sandbox.servicenow_url()),
            )
            .basic_auth(&person.user_name, Some(&person.password));
        checked("ServiceNow", call(request, Some(body)).await)
    }

    async fn azure_devops(&self, method: Method, path: &str, body: Value) -> Value {
        let person = &self.stack.sandbox_config.azure_devops.users[1];
        let url = format!("{}{path}", self.stack.sandbox.azure_devops_url());
        let is_patch_document = body.is_array();
        let request = self
            .http
            .request(method, url)
            .basic_auth("", Some(&person.pat));
        let answer = if is_patch_document {
            let request = request
                .header("content-type", "application/json-patch+json")
                .body(body.to_string());
            call(request, None).await
        } else {
            call(request, Some(body)).await
        };
        checked("Azure DevOps", answer)
    }

    async fn zendesk(&self, method: Method, path: &str, body: Value) -> Value {
        let person = &self.stack.sandbox_config.zendesk.users[1];
        let request = self
            .http
            .request(
                method,
                format!("{}{path}", self.stack.sandbox.zendesk_url()),
            )
            .basic_auth(format!("{}/token", person.email), Some(&person.api_token));
        checked("Zendesk", call(request, Some(body)).await)
    }

    async fn jira_dc(&self, method: Method, path: &str, body: Value) -> Value {
        let person = &self.stack.sandbox_config.jira_dc.users[1];
        let request = self
            .http
            .request(
                method,
                format!("{}{path}", self.stack.sandbox.jira_dc_url()),
            )
            .basic_auth(&person.name, Some(&person.password));
        checked("Jira Data Center", call(request, Some(body)).await)
    }

    async fn salesforce(&self, method: Method, path: &str, body: Value) -> Value {
        let token = self
            .salesforce_person_token
            .as_deref()
            .expect("Salesforce is not a peer of this round trip");
        let request = self
            .http
            .request(
                method,
                format!("{}{path}", self.stack.sandbox.salesforce_url()),
            )
            .bearer_auth(token);
        checked("Salesforce", call(request, Some(body)).await)
    }
}

/// Registers `peer`'s instance on the stack, as `proxysync instance add` does. GitHub and Jira
/// Cloud are registered by [`Stack::start`] already.
async fn register(stack: &Stack, peer: Peer) {
    let config = &stack.sandbox_config;
    let (kind, base_url, secret, options) = match peer {
        Peer::Github | Peer::JiraCloud => return,
        Peer::Servicenow => {
            let proxy = &config.servicenow.users[0];
            let secret = json!({"username": proxy.user_name, "password": proxy.password,
                                "webhook_secret": config.servicenow.webhook_secret});
            let url = stack.sandbox.servicenow_url();
            (TrackerKind::Servicenow, url, secret, Map::new())
        }
        Peer::AzureDevops => {
            let proxy = &config.azure_devops.users[0];
            let secret =
                json!({"token": proxy.pat, "webhook_secret": config.azure_devops.hook_basic_auth});
            let url = stack.sandbox.azure_devops_url();
            (TrackerKind::AzureDevops, url, secret, Map::new())
        }
        Peer::Zendesk => {
            let proxy = &config.zendesk.users[0];
            let secret = json!({"email": proxy.email, "api_token": proxy.api_token,
                                "webhook_secret": config.zendesk.webhook_secret});
            let url = stack.sandbox.zendesk_url();
            (TrackerKind::Zendesk, url, secret, Map::new())
        }
        Peer::JiraDc => {
            let proxy = &config.jira_dc.users[0];
            let secret =
                json!({"token": proxy.token, "webhook_secret": config.jira_dc.webhook_secret});
            let url = stack.sandbox.jira_dc_url();
            (TrackerKind::JiraDc, url, secret, Map::new())
        }
        Peer::Salesforce => {
            let salesforce = &config.salesforce;
            let refresh = stack
                .sandbox
                .salesforce()
                .issue_refresh_token(&salesforce.users[0].username);
            let access = salesforce_token_grant(stack, &refresh).await;
            let secret = json!({
                "client_id": salesforce.client_id,
                "client_secret": salesforce.client_secret,
                "refresh_token": refresh,
                "access_token": access,
                "access_token_expires_at": proxysync_core::time_util::now_ms() / 1000 + 7200,
                "webhook_secret": SALESFORCE_TOKEN,
            });
            let mut options = Map::new();
            options.insert(
                "organization_id".to_owned(),
                json!(salesforce.organization_id),
            );
            options.insert("sobject_types".to_owned(), json!(["Case", "CaseComment"]));
            let url = stack.sandbox.salesforce_url();
            (TrackerKind::Salesforce, url, secret, options)
        }
        Peer::HpAlm => {
            let proxy = &config.hp_alm.users[0];
            let secret = json!({"username": proxy.username, "password": proxy.password});
            let mut options = Map::new();
            options.insert("projects".to_owned(), json!([peer.project()]));
            let url = stack.sandbox.hp_alm_url();
            (TrackerKind::HpAlm, url, secret, options)
        }
    };
    stack
        .add_instance(peer.instance(), kind, base_url, secret, options)
        .await;
}

/// Signs `username` in to the Salesforce sandbox and returns an access token.
async fn salesforce_access_token(stack: &Stack, username: &str) -> String {
    let refresh = stack.sandbox.salesforce().issue_refresh_token(username);
    salesforce_token_grant(stack, &refresh).await
}

/// Exchanges a Salesforce refresh token for an access token, as the connected app does.
async fn salesforce_token_grant(stack: &Stack, refresh_token: &str) -> String {
    let config = &stack.sandbox_config.salesforce;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("refresh_token", refresh_token),
        ])
        .finish();
    let request = reqwest::Client::new()
        .post(format!(
            "{}/services/oauth2/token",
            stack.sandbox.salesforce_url()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let answer = checked("Salesforce token endpoint", call(request, None).await);
    text(&answer["access_token"])
}

/// Returns the Jira sandbox transition id: 31 moves to Done, 11 to To Do.
fn jira_transition(closed: bool) -> &'static str {
    if closed { "31" } else { "11" }
}

/// Renders plain paragraphs (separated by a blank line) as HTML paragraphs.
pub fn paragraphs_html(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| format!("<p>{paragraph}</p>"))
        .collect()
}

/// Renders plain paragraphs (separated by a blank line) as an Atlassian Document Format doc.
pub fn paragraphs_adf(text: &str) -> Value {
    let content: Vec<Value> = text
        .split("\n\n")
        .map(|paragraph| {
            json!({"type": "paragraph", "content": [{"type": "text", "text": paragraph}]})
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// Returns the canonical Markdown of `text`, to compare descriptions across formats.
pub fn canonical(text: &str) -> String {
    canonical_markdown(text)
}

fn checked(tracker: &str, (status, answer): (reqwest::StatusCode, Value)) -> Value {
    assert!(
        status.is_success(),
        "{tracker} sandbox answered {status}: {answer}"
    );
    answer
}

/// Returns a JSON string or number as text.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => panic!("expected an id, got {other}"),
    }
}

/// The texts of [`run`]: the person's first version, their edit on the other side, and the
/// comment.
pub const FIRST_TITLE: &str = "Mail relay drops messages";
pub const FIRST_DESCRIPTION: &str =
    "Nobody on floor 3 can send mail.\n\nThe relay log shows timeouts since Monday.";
pub const EDITED_TITLE: &str = "Mail relay drops messages over 10 MB";
pub const EDITED_DESCRIPTION: &str =
    "Only large attachments fail.\n\nThe relay rejects them with a size error.";
pub const COMMENT: &str = "Raised the size limit on the relay at 09:40.";

/// Runs one round trip and checks each step.
///
/// A person creates an issue on `creator`; delivery creates its copy on `editor`, and the
/// proxy users' own webhooks then write nothing. A person on `editor` changes the title,
/// description and state and adds a comment. Delivery brings both sides to the same content
/// with the comment once on each, and again the echoes write nothing.
pub async fn run(creator: Peer, editor: Peer) {
    let trip = RoundTrip::start(creator, editor).await;

    let original = trip.create(creator, FIRST_TITLE, FIRST_DESCRIPTION).await;
    let round = trip.deliver().await;
    match creator.webhook_name() {
        Some(name) => assert!(
            round.has(&format!("{name}:synced:created")),
            "{:?}",
            round.outcomes
        ),
        None => assert_eq!(round.polled_synced(), 1, "{:?}", round.polls),
    }
    let copy = trip.only_issue(editor);
    for (peer, id) in [(creator, &original), (editor, &copy)] {
        let side = trip.read(peer, id);
        assert_eq!(side.title, FIRST_TITLE, "{peer:?}");
        assert_eq!(
            canonical(&side.description),
            canonical(FIRST_DESCRIPTION),
            "{peer:?}"
        );
        assert!(!side.closed, "{peer:?} is closed after the create");
    }
    trip.assert_no_ping_pong().await;

    let edit = Edit {
        title: EDITED_TITLE,
        description: EDITED_DESCRIPTION,
        closed: true,
    };
    trip.edit(editor, &copy, edit).await;
    trip.comment(editor, &copy, COMMENT).await;
    let round = trip.deliver().await;
    match editor.webhook_name() {
        Some(name) => {
            assert!(
                round.has(&format!("{name}:synced:updated")),
                "{:?}",
                round.outcomes
            );
            assert!(
                round.has(&format!("{name}:synced:comment_added")),
                "{:?}",
                round.outcomes
            );
        }
        None => assert!(round.polled_synced() >= 1, "{:?}", round.polls),
    }

    // Zendesk keeps its first description, so an edit on either side leaves the first text
    // there. An edit on the other side reaches Zendesk as a note with the new text.
    let description = if editor.edits_description() {
        EDITED_DESCRIPTION
    } else {
        FIRST_DESCRIPTION
    };
    for (peer, id) in [(editor, &copy), (creator, &original)] {
        let side = trip.read(peer, id);
        assert_eq!(side.title, EDITED_TITLE, "{peer:?}");
        assert!(side.closed, "{peer:?} is still open");
        assert_eq!(
            side.comment_count(COMMENT),
            1,
            "{peer:?} comments: {:#?}",
            side.comments
        );
        if peer.edits_description() {
            assert_eq!(
                canonical(&side.description),
                canonical(description),
                "{peer:?}"
            );
        } else {
            assert_eq!(
                canonical(&side.description),
                canonical(FIRST_DESCRIPTION),
                "{peer:?}"
            );
            if description == EDITED_DESCRIPTION {
                let first_paragraph = EDITED_DESCRIPTION.split("\n\n").next().unwrap();
                assert_eq!(
                    side.comment_count(first_paragraph),
                    1,
                    "{peer:?} has no note with the new description: {:#?}",
                    side.comments
                );
            }
        }
    }
    trip.assert_no_ping_pong().await;
}
