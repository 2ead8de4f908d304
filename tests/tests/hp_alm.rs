//! HP ALM/QC as a polled sync peer: audit and defect shapes parse, the proxy user's changes
//! are skipped, a sync with GitHub converges both ways, a failed poll keeps its watermark and
//! is applied once later, a failed sign-in keeps the watermark too, and an unreadable audit
//! skips the change. A deleted defect parks the writes to it while the poll goes on, an edit
//! of earlier comments is skipped, overlapping runs never read a page twice, and the
//! preflight names a project the proxy user cannot see.

use std::time::Duration;

use proxysync_core::model::{Instance, TrackerKind};
use proxysync_core::trackers::hp_alm::poll::{self, PollSettings, ProjectReport};
use proxysync_core::trackers::{self, hp_alm};
use proxysync_tests::Stack;
use proxysync_tests::peers::{endpoint, outcomes};
use proxysync_tests::tracker_sandbox::Fault;
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

const REPO: &str = "acme/widgets";
const INSTANCE: &str = "acme-alm";
const PROJECT: &str = "DEFAULT/Example_Project";

fn fixture(name: &str) -> String {
    let path = proxysync_tests::repo_root()
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn instance_options(projects: &[&str]) -> Map<String, Value> {
    let mut options = Map::new();
    options.insert("projects".to_owned(), json!(projects));
    options
}

#[test]
fn audit_and_defect_shapes_parse() {
    let audits = poll::parse_audits(&fixture("hp-alm-audits.xml")).expect("parse the audits");
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0].user, "tester_one");
    assert_eq!(audits[1].user, "sync_proxy");

    let page: Value = serde_json::from_str(&fixture("hp-alm-defects-page.json")).unwrap();
    let defect = &page["entities"][0];
    let instance = Instance {
        id: INSTANCE.to_owned(),
        tracker: TrackerKind::HpAlm,
        base_url: "https://alm.example.com/qcbin".to_owned(),
        secret: "proxysync/alm".to_owned(),
        proxy: None,
        options: instance_options(&[PROJECT]),
    };
    let settings = PollSettings::from_options(&instance.options);
    let events = poll::events_of(&instance, PROJECT, defect, &audits, &settings).unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.author.id, "tester_one");
    assert_eq!(event.issue.id, "DEFAULT/Example_Project/20574");
    assert_eq!(event.content.title, "Login page freezes");
    assert_eq!(event.content.body, "Freezes after **submit**.");
    assert_eq!(
        serde_json::to_value(&event.change).unwrap()["fields"],
        json!(["state"])
    );

    // The proxy's own comment change an hour later is attributed to the proxy user.
    let mut later = defect.clone();
    later["Fields"][1]["values"][0]["value"] = json!("2024-05-02 10:50:03");
    let events = poll::events_of(&instance, PROJECT, &later, &audits, &settings).unwrap();
    assert_eq!(events[0].author.id, "sync_proxy");

    // No audit record near the change: skipped with the reason.
    let mut unknown = defect.clone();
    unknown["Fields"][1]["values"][0]["value"] = json!("2024-05-02 12:00:00");
    let reason = poll::events_of(&instance, PROJECT, &unknown, &audits, &settings).unwrap_err();
    assert!(reason.contains("no audit record"), "{reason}");

    // Earlier comment text rewritten rather than appended to: skipped with the reason.
    let rewrite = poll::Audit {
        id: 3,
        action: "UPDATE".to_owned(),
        time: audits[0].time.clone(),
        user: TESTER.to_owned(),
        properties: vec![(
            "BG_DEV_COMMENTS".to_owned(),
            "<html><body>Fixed in build 43.</body></html>".to_owned(),
            "<html><body>Fixed in build 42.</body></html>".to_owned(),
        )],
    };
    let reason = poll::events_of(&instance, PROJECT, defect, &[rewrite], &settings).unwrap_err();
    assert!(
        reason.contains("edits earlier text of dev-comments"),
        "{reason}"
    );
}

async fn start() -> (Stack, Instance) {
    let stack = Stack::start().await;
    let proxy = stack.sandbox_config.hp_alm.users[0].clone();
    let instance = stack
        .add_instance(
            INSTANCE,
            TrackerKind::HpAlm,
            stack.sandbox.hp_alm_url(),
            json!({"username": proxy.username, "password": proxy.password}),
            instance_options(&[PROJECT]),
        )
        .await;
    stack
        .add_connection(
            "defects",
            endpoint("acme-github", REPO),
            endpoint(INSTANCE, PROJECT),
        )
        .await;
    (stack, instance)
}

async fn poll_once(stack: &Stack) -> ProjectReport {
    let deadline = Instant::now() + Duration::from_secs(20);
    let reports = poll::poll_all(&stack.pipeline, deadline)
        .await
        .expect("poll");
    assert_eq!(reports.len(), 1, "{reports:?}");
    reports.into_iter().next().unwrap()
}

const TESTER: &str = "tester_one";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_and_alm_converge() {
    let (stack, instance) = start().await;
    assert_eq!(instance.proxy.as_ref().unwrap().id, "sync_proxy");
    let alm = stack.sandbox.hp_alm();
    let id = alm.create_defect(
        TESTER,
        PROJECT,
        &[
            ("name", "Report totals wrong"),
            (
                "description",
                "<html><body><p>Totals are off by <b>one</b>.</p></body></html>",
            ),
            ("detected-by", TESTER),
        ],
    );

    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(report.synced, 1, "{report:?}");
    let github = stack.sandbox.state().github;
    let issue = github
        .issues
        .iter()
        .find(|i| i.repo == REPO)
        .expect("the GitHub issue")
        .clone();
    assert_eq!(issue.title, "Report totals wrong");
    assert_eq!(issue.body.as_deref(), Some("Totals are off by **one**."));

    // GitHub's webhooks of the proxy's writes are skipped; a human comment reaches ALM.
    stack
        .human()
        .github(
            Method::POST,
            &format!("/repos/{REPO}/issues/{}/comments", issue.number),
            Some(json!({"body": "Seen on the *monthly* report too."})),
        )
        .await;
    let list = outcomes(&stack.pump_until_quiet(6).await);
    assert!(
        list.contains(&"github:synced:comment_added".to_owned()),
        "{list:?}"
    );
    let defect = alm.defects().into_iter().find(|d| d.id == id).unwrap();
    let comments = defect.field("dev-comments");
    assert!(comments.contains("<em>monthly</em>"), "{comments}");
    assert!(
        comments.contains("<b>sync_proxy &lt;sync_proxy&gt;,"),
        "{comments}"
    );

    // The proxy's own changes come back in the next poll and are skipped.
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 0, "{report:?}");
    assert!(report.skipped >= 1, "{report:?}");

    // A tester closes the defect and comments: both reach GitHub, once.
    let with_comment =
        hp_alm::append_comment(comments, TESTER, "2024-05-02", "<p>Fixed in build 42.</p>");
    alm.edit_defect(
        TESTER,
        PROJECT,
        id,
        &[("status", "Closed"), ("dev-comments", &with_comment)],
    );
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 1, "{report:?}");
    let github = stack.sandbox.state().github;
    let issue = github.issues.iter().find(|i| i.repo == REPO).unwrap();
    assert_eq!(issue.state, "closed");
    let mirrored: Vec<_> = github
        .comments
        .iter()
        .filter(|c| c.body.contains("Fixed in build 42."))
        .collect();
    assert_eq!(mirrored.len(), 1, "{:?}", github.comments);
    assert!(mirrored[0].body.contains(TESTER), "{}", mirrored[0].body);

    let list = outcomes(&stack.pump_until_quiet(6).await);
    assert!(!list.iter().any(|o| o.contains(":synced:")), "{list:?}");
    let report = poll_once(&stack).await;
    assert_eq!(report.changes, 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_poll_keeps_watermark() {
    let (stack, _) = start().await;
    stack
        .sandbox
        .hp_alm()
        .create_defect(TESTER, PROJECT, &[("name", "Upload stalls")]);
    let before = stack.store.poll_watermark(INSTANCE, PROJECT).await.unwrap();
    assert!(before.is_none());

    stack.sandbox.add_fault(Fault {
        tracker: Some("hp-alm".to_owned()),
        path_contains: Some("/defects?query".to_owned()),
        status: 500,
        times: 20,
        ..Fault::default()
    });
    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "failed", "{report:?}");
    assert!(
        report.error.as_deref().unwrap_or_default().contains("500"),
        "{report:?}"
    );
    let after = stack.store.poll_watermark(INSTANCE, PROJECT).await.unwrap();
    assert_eq!(after, None, "a failed poll stores no watermark");
    assert!(stack.sandbox.state().github.issues.is_empty());

    stack.sandbox.clear_faults();
    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(report.synced, 1, "{report:?}");
    let stored = stack
        .store
        .poll_watermark(INSTANCE, PROJECT)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.last_modified.is_empty());
    // The next run meets only the proxy's link comment on the defect, and skips it.
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 0, "{report:?}");
    let report = poll_once(&stack).await;
    assert_eq!(report.changes, 0, "{report:?}");
    assert_eq!(stack.sandbox.state().github.issues.len(), 1);
}

/// Polls once with a pipeline of its own, whose secret cache is empty.
async fn poll_uncached(stack: &Stack) -> ProjectReport {
    let moto = proxysync_tests::moto_endpoint().await;
    let pipeline = stack.pipeline_with(&moto, &moto, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let reports = poll::poll_all(&pipeline, deadline).await.expect("poll");
    assert_eq!(reports.len(), 1, "{reports:?}");
    reports.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_in_keeps_watermark() {
    let (stack, instance) = start().await;
    stack
        .sandbox
        .hp_alm()
        .create_defect(TESTER, PROJECT, &[("name", "Printer queue stuck")]);
    let proxy = stack.sandbox_config.hp_alm.users[0].clone();
    let put_password = |password: String| {
        let secret = json!({"username": proxy.username, "password": password});
        stack
            .secrets_client
            .put_secret_value()
            .secret_id(&instance.secret)
            .secret_string(secret.to_string())
            .send()
    };
    put_password("not-the-password".to_owned()).await.unwrap();
    // The session opened when the instance was added would otherwise still be reused.
    stack.sandbox.hp_alm().expire_sessions();

    let report = poll_uncached(&stack).await;
    assert_eq!(report.outcome, "failed", "{report:?}");
    let error = report.error.clone().unwrap_or_default();
    assert!(error.contains("401"), "{report:?}");
    assert!(!error.contains("not-the-password"), "{report:?}");
    let refused = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.tracker == "hp-alm" && r.path.contains("authentication-point"))
        .filter(|r| r.status == 401)
        .count();
    assert!(refused >= 1, "no sign-in was refused");
    let stored = stack.store.poll_watermark(INSTANCE, PROJECT).await.unwrap();
    assert_eq!(stored, None, "a failed sign-in stores no watermark");
    assert!(stack.sandbox.state().github.issues.is_empty());

    // Once the password is right again, the change made before the failure is synced.
    put_password(proxy.password.clone()).await.unwrap();
    let report = poll_uncached(&stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(report.synced, 1, "{report:?}");
    let github = stack.sandbox.state().github;
    assert!(
        github
            .issues
            .iter()
            .any(|i| i.title == "Printer queue stuck"),
        "{:?}",
        github.issues
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_audit_skips_change() {
    let (stack, _) = start().await;
    let alm = stack.sandbox.hp_alm();
    let id = alm.create_defect(TESTER, PROJECT, &[("name", "Queue backs up")]);
    poll_once(&stack).await;
    assert_eq!(stack.sandbox.state().github.issues.len(), 1);

    alm.edit_defect(TESTER, PROJECT, id, &[("name", "Queue backs up at night")]);
    stack.sandbox.add_fault(Fault {
        tracker: Some("hp-alm".to_owned()),
        path_contains: Some("/audits".to_owned()),
        status: 403,
        ..Fault::default()
    });
    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(report.skipped, 1, "{report:?}");
    assert_eq!(report.synced, 0, "{report:?}");
    let issue = stack.sandbox.state().github.issues[0].clone();
    assert_eq!(issue.title, "Queue backs up");
}

/// Polls once, expects the first defect named `title` on GitHub, and returns its issue number.
async fn poll_to_github(stack: &Stack, title: &str) -> u64 {
    let report = poll_once(stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(report.synced, 1, "{report:?}");
    // GitHub's webhooks of the proxy's writes.
    stack.pump_until_quiet(6).await;
    let github = stack.sandbox.state().github;
    let issue = github.issues.iter().find(|i| i.title == title);
    issue
        .unwrap_or_else(|| panic!("no GitHub issue {title:?}"))
        .number
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_defect_parks_writes() {
    let (stack, _) = start().await;
    let alm = stack.sandbox.hp_alm();
    let deleted_id = alm.create_defect(TESTER, PROJECT, &[("name", "Print preview blank")]);
    let number = poll_to_github(&stack, "Print preview blank").await;
    alm.delete_defect(PROJECT, deleted_id);
    alm.create_defect(TESTER, PROJECT, &[("name", "Export drops rows")]);

    // A person edits and comments on the GitHub issue of the deleted defect.
    let human = stack.human();
    let path = format!("/repos/{REPO}/issues/{number}");
    human
        .github(
            Method::PATCH,
            &path,
            Some(json!({"title": "Print preview blank, edited"})),
        )
        .await;
    human
        .github(
            Method::POST,
            &format!("{path}/comments"),
            Some(json!({"body": "Blank in Firefox too."})),
        )
        .await;
    // The stack's GitHub repository also syncs with Jira, which gets both changes.
    let answers = stack.pump_until_quiet(6).await;
    let to_alm: Vec<&Value> = answers
        .iter()
        .flat_map(|(_, answer)| answer.body["events"].as_array().into_iter().flatten())
        .filter(|event| event["connection"] == "defects")
        .collect();
    assert_eq!(to_alm.len(), 2, "{:?}", outcomes(&answers));
    let expected = format!("defect {deleted_id} no longer exists in {PROJECT}");
    for event in to_alm {
        assert_eq!(event["decision"], "parked", "{event}");
        let error = event["error"].as_str().unwrap_or_default();
        assert!(error.contains(&expected), "{error}");
        assert!(error.contains("404"), "{error}");
    }
    let parked = stack.store.list_parked().await.unwrap();
    assert_eq!(parked.len(), 2, "{parked:?}");
    for event in &parked {
        assert_eq!(event.error_code.as_deref(), Some("404"), "{event:?}");
        assert!(event.error.contains(&expected), "{}", event.error);
    }

    // The poll goes on: the new defect syncs, and the deleted one fails nothing.
    poll_to_github(&stack, "Export drops rows").await;
    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(report.parked, 0, "{report:?}");

    // A replay keeps both events parked with the same reason, in order.
    let replay = stack
        .pipeline
        .replay_parked(true, Duration::from_secs(5))
        .await
        .expect("replay");
    assert_eq!(
        (replay.replayed, replay.failed, replay.waiting),
        (0, 1, 1),
        "{replay:?}"
    );
    for event in stack.store.list_parked().await.unwrap() {
        assert!(event.error.contains(&expected), "{}", event.error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_comments_skipped() {
    let (stack, _) = start().await;
    let alm = stack.sandbox.hp_alm();
    let id = alm.create_defect(TESTER, PROJECT, &[("name", "Sync stalls")]);
    let number = poll_to_github(&stack, "Sync stalls").await;
    // The next poll meets only the proxy's link comment on the defect.
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 0, "{report:?}");
    let comments_on_github = || {
        let github = stack.sandbox.state().github;
        github
            .comments
            .iter()
            .filter(|c| c.issue_number == number)
            .count()
    };
    let before = comments_on_github();
    let current = || {
        let defect = alm.defects().into_iter().find(|d| d.id == id).unwrap();
        defect.field("dev-comments").to_owned()
    };
    let linked = current();
    assert!(linked.contains("Linked with"), "{linked}");

    // A tester rewrites earlier text of the comments field: skipped, nothing posted.
    let rewritten = linked.replace("Linked with", "Linked to");
    alm.edit_defect(TESTER, PROJECT, id, &[("dev-comments", &rewritten)]);
    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "polled", "{report:?}");
    assert_eq!(
        (report.changes, report.skipped, report.synced),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(comments_on_github(), before);

    // A rewrite together with a status change: the status syncs, the rewrite does not.
    alm.edit_defect(
        TESTER,
        PROJECT,
        id,
        &[("status", "Closed"), ("dev-comments", &linked)],
    );
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 1, "{report:?}");
    let github = stack.sandbox.state().github;
    let issue = github.issues.iter().find(|i| i.number == number).unwrap();
    assert_eq!(issue.state, "closed");
    assert_eq!(comments_on_github(), before);

    // An appended comment still syncs, once.
    let appended =
        hp_alm::append_comment(&current(), TESTER, "2024-05-02", "<p>Root cause found.</p>");
    alm.edit_defect(TESTER, PROJECT, id, &[("dev-comments", &appended)]);
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 1, "{report:?}");
    assert_eq!(comments_on_github(), before + 1);
    let github = stack.sandbox.state().github;
    let mirrored = github
        .comments
        .iter()
        .filter(|c| c.body.contains("Root cause found."))
        .count();
    assert_eq!(mirrored, 1, "{:?}", github.comments);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_run_skips_project() {
    let (stack, _) = start().await;
    stack
        .sandbox
        .hp_alm()
        .create_defect(TESTER, PROJECT, &[("name", "Slow search")]);
    let lease = format!("alm-poll#{INSTANCE}#{PROJECT}");
    stack
        .store
        .acquire_lease(&lease, "another-run", 60_000)
        .await
        .unwrap();
    let report = poll_once(&stack).await;
    assert_eq!(report.outcome, "busy", "{report:?}");
    assert!(stack.sandbox.state().github.issues.is_empty());

    stack
        .store
        .release_lease(&lease, "another-run")
        .await
        .unwrap();
    let report = poll_once(&stack).await;
    assert_eq!(report.synced, 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_unseen_project() {
    let (stack, mut instance) = start().await;
    instance.options = instance_options(&[PROJECT, "DEFAULT/Other_Project"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let api = stack.pipeline.api(&instance, deadline, true).await.unwrap();
    let module = trackers::module(TrackerKind::HpAlm).unwrap();
    let checks = module.target().preflight(&api, &instance).await;
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks[0].ok, "{checks:?}");
    assert!(!checks[1].ok, "{checks:?}");
    assert!(checks[1].name.contains("Other_Project"), "{checks:?}");
    assert!(checks[1].detail.contains("cannot see"), "{checks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_named() {
    let (stack, mut instance) = start().await;
    let secret_id = format!("{}/alm-bad", stack.github_secret_id);
    stack
        .secrets_client
        .create_secret()
        .name(&secret_id)
        .secret_string(json!({"username": "nobody", "password": "wrong"}).to_string())
        .send()
        .await
        .unwrap();
    instance.secret = secret_id;
    let error = stack.pipeline.whoami(&instance).await.unwrap_err();
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("authentication-point"), "{error}");
}
