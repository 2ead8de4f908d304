//! The fake Jira Cloud REST API over real sockets.

mod common;

use common::*;
use serde_json::{Value, json};

const NOT_FOUND_MESSAGE: &str = "Issue does not exist or you do not have permission to see it.";

#[tokio::test]
async fn auth_requires_configured_basic_credentials() {
    let sandbox = start().await;
    let url = format!("{}/rest/api/3/myself", sandbox.jira_url());

    let anonymous = client().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let user = &sandbox.config().jira.users[JIRA_BOT];
    let wrong = client()
        .get(&url)
        .basic_auth(&user.email, Some("wrong-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let bearer = client()
        .get(&url)
        .bearer_auth(&user.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);

    let me = as_jira(client().get(&url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["accountId"], jira_account(&sandbox, JIRA_BOT));
    assert_eq!(me["displayName"], "ProxySync Bot");
    assert_eq!(me["emailAddress"], user.email.as_str());
}

#[tokio::test]
async fn create_and_get_issue() {
    let sandbox = start().await;
    let url = format!("{}/rest/api/3/issue", sandbox.jira_url());
    let response = as_jira(client().post(&url), &sandbox, JIRA_HUMAN)
        .json(&json!({
            "fields": {
                "project": { "key": "SUP" },
                "issuetype": { "name": "Bug" },
                "summary": "Login page is blank",
                "description": adf("Open the login page"),
                "labels": ["customer", "urgent"],
            }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["key"], "SUP-1");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["self"],
        format!("{}/rest/api/3/issue/{id}", sandbox.jira_url())
    );

    let issue: Value = as_jira(
        client().get(format!("{}/rest/api/3/issue/SUP-1", sandbox.jira_url())),
        &sandbox,
        JIRA_BOT,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(issue["id"], id.as_str());
    assert_eq!(issue["key"], "SUP-1");
    let fields = &issue["fields"];
    assert_eq!(fields["summary"], "Login page is blank");
    assert_eq!(fields["description"], adf("Open the login page"));
    assert_eq!(fields["labels"], json!(["customer", "urgent"]));
    assert_eq!(fields["status"]["name"], "To Do");
    assert_eq!(fields["status"]["statusCategory"]["key"], "new");
    assert_eq!(fields["project"]["key"], "SUP");
    assert!(fields["project"]["id"].is_string());
    assert!(fields["project"]["name"].is_string());
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert_eq!(
        fields["creator"]["accountId"],
        jira_account(&sandbox, JIRA_HUMAN)
    );
    assert_eq!(
        fields["reporter"]["accountId"],
        jira_account(&sandbox, JIRA_HUMAN)
    );
    let created_at = fields["created"].as_str().unwrap();
    assert_eq!(created_at.len(), "2026-12-04T16:20:00.000+0000".len());
    assert!(created_at.ends_with("+0000"));
    assert_eq!(fields["updated"], fields["created"]);

    let by_id = as_jira(
        client().get(format!("{}/rest/api/3/issue/{id}", sandbox.jira_url())),
        &sandbox,
        JIRA_BOT,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(by_id.status(), 200);

    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].tracker, "jira");
    let payload = webhooks[0].json();
    assert_eq!(payload["webhookEvent"], "jira:issue_created");
    assert_eq!(payload["issue_event_type_name"], "issue_created");
    assert_eq!(
        payload["user"]["accountId"],
        jira_account(&sandbox, JIRA_HUMAN)
    );
    assert_eq!(payload["issue"]["key"], "SUP-1");
    assert_eq!(
        payload["issue"]["fields"]["description"],
        "Open the login page"
    );
    assert!(payload["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(payload["changelog"]["id"].is_string());
}

#[tokio::test]
async fn create_rejects_invalid_fields() {
    let sandbox = start().await;
    let url = format!("{}/rest/api/3/issue", sandbox.jira_url());
    let post = |fields: Value| {
        let request =
            as_jira(client().post(&url), &sandbox, JIRA_BOT).json(&json!({ "fields": fields }));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let base = |summary: &str| json!({ "project": { "key": "SUP" }, "issuetype": { "name": "Task" }, "summary": summary });

    let (status, body) = post(base("")).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}})
    );

    let mut unknown_project = base("ok");
    unknown_project["project"] = json!({ "key": "NOPE" });
    let (status, body) = post(unknown_project).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"errorMessages": [NOT_FOUND_MESSAGE], "errors": {}})
    );

    let mut text_description = base("ok");
    text_description["description"] = json!("plain text is API v2 only");
    let (status, body) = post(text_description).await;
    assert_eq!(status, 400);
    assert!(body["errors"]["description"].is_string());

    let mut spaced_label = base("ok");
    spaced_label["labels"] = json!(["needs triage"]);
    let (status, body) = post(spaced_label).await;
    assert_eq!(status, 400);
    assert!(body["errors"]["labels"].is_string());

    let mut unknown_type = base("ok");
    unknown_type["issuetype"] = json!({ "name": "Saga" });
    let (status, _) = post(unknown_type).await;
    assert_eq!(status, 400);

    let mut unknown_field = base("ok");
    unknown_field["customfield_10000"] = json!("x");
    let (status, body) = post(unknown_field).await;
    assert_eq!(status, 400);
    assert!(body["errors"]["customfield_10000"].is_string());

    assert!(sandbox.take_webhooks().is_empty());
    assert!(sandbox.state().jira.issues.is_empty());
}

#[tokio::test]
async fn unknown_issue_is_not_found() {
    let sandbox = start().await;
    for path in [
        "issue/SUP-99",
        "issue/SUP-99/comment",
        "issue/HR-1/transitions",
    ] {
        let url = format!("{}/rest/api/3/{path}", sandbox.jira_url());
        let response = as_jira(client().get(url), &sandbox, JIRA_BOT)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"errorMessages": [NOT_FOUND_MESSAGE], "errors": {}})
        );
    }
}

#[tokio::test]
async fn update_fields_records_changelog() {
    let sandbox = start().await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "Old summary").await;
    sandbox.take_webhooks();
    let created = sandbox.state().jira.issues[0].clone();
    let url = format!("{}/rest/api/3/issue/{key}", sandbox.jira_url());

    let response = as_jira(
        client().put(format!("{url}?notifyUsers=false")),
        &sandbox,
        JIRA_BOT,
    )
    .json(&json!({ "fields": { "summary": "New summary", "description": adf("New text") } }))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 204);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["webhookEvent"], "jira:issue_updated");
    assert_eq!(payload["issue_event_type_name"], "issue_updated");
    assert_eq!(
        payload["user"]["accountId"],
        jira_account(&sandbox, JIRA_BOT)
    );
    let items = payload["changelog"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["field"], "summary");
    assert_eq!(items[0]["fieldtype"], "jira");
    assert_eq!(items[0]["fromString"], "Old summary");
    assert_eq!(items[0]["toString"], "New summary");
    assert_eq!(items[1]["field"], "description");
    assert_eq!(items[1]["fromString"], "Steps to reproduce");
    assert_eq!(items[1]["toString"], "New text");
    assert_eq!(payload["issue"]["fields"]["summary"], "New summary");

    let updated = sandbox.state().jira.issues[0].clone();
    assert_eq!(updated.summary, "New summary");
    assert_eq!(updated.description, Some(adf("New text")));
    assert!(updated.updated > created.updated);

    let response = as_jira(client().put(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "fields": { "summary": "New summary" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        sandbox.take_webhooks().is_empty(),
        "an edit without changes sends nothing"
    );

    let response = as_jira(client().put(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "fields": { "summary": "" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn update_labels_with_operations() {
    let sandbox = start().await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "Labels").await;
    let url = format!("{}/rest/api/3/issue/{key}", sandbox.jira_url());
    as_jira(client().put(&url), &sandbox, JIRA_HUMAN)
        .json(&json!({ "fields": { "labels": ["alpha", "beta"] } }))
        .send()
        .await
        .unwrap();
    sandbox.take_webhooks();

    let response = as_jira(client().put(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "update": { "labels": [{ "add": "gamma" }, { "remove": "alpha" }] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(sandbox.state().jira.issues[0].labels, ["beta", "gamma"]);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let item = &webhooks[0].json()["changelog"]["items"][0];
    assert_eq!(item["field"], "labels");
    assert_eq!(item["fromString"], "alpha beta");
    assert_eq!(item["toString"], "beta gamma");

    let both = as_jira(client().put(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "fields": { "labels": [] }, "update": { "labels": [{ "add": "x" }] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
}

#[tokio::test]
async fn transitions_move_between_statuses() {
    let sandbox = start().await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "Workflow").await;
    sandbox.take_webhooks();
    let url = format!("{}/rest/api/3/issue/{key}/transitions", sandbox.jira_url());

    let listed: Value = as_jira(client().get(&url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let transitions = listed["transitions"].as_array().unwrap();
    let offered: Vec<(&str, &str, &str)> = transitions
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap(),
                t["to"]["name"].as_str().unwrap(),
                t["to"]["statusCategory"]["key"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        [
            ("21", "In Progress", "indeterminate"),
            ("31", "Done", "done")
        ]
    );

    let done = as_jira(client().post(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "transition": { "id": "31" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);
    let issue: Value = as_jira(
        client().get(format!("{}/rest/api/3/issue/{key}", sandbox.jira_url())),
        &sandbox,
        JIRA_BOT,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(issue["fields"]["status"]["name"], "Done");
    assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "done");
    assert!(issue["fields"]["resolutiondate"].is_string());

    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["webhookEvent"], "jira:issue_updated");
    let items = payload["changelog"]["items"].as_array().unwrap();
    let status_item = items.iter().find(|i| i["field"] == "status").unwrap();
    assert_eq!(status_item["fromString"], "To Do");
    assert_eq!(status_item["toString"], "Done");
    assert!(items.iter().any(|i| i["field"] == "resolution"));
    assert_eq!(payload["issue"]["fields"]["status"]["name"], "Done");

    let again = as_jira(client().post(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "transition": { "id": "31" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "Done is not offered from Done");

    let unknown = as_jira(client().post(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "transition": { "id": "99" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.unwrap();
    assert!(body["errorMessages"][0].as_str().unwrap().contains("99"));

    let reopen = as_jira(client().post(&url), &sandbox, JIRA_HUMAN)
        .json(&json!({ "transition": { "id": "11" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(reopen.status(), 204);
    let state = sandbox.state();
    assert_eq!(state.jira.issues[0].status, "To Do");
    assert_eq!(state.jira.issues[0].resolution_date, None);
}

#[tokio::test]
async fn comment_create_update_delete() {
    let sandbox = start().await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "Comments").await;
    sandbox.take_webhooks();
    let url = format!("{}/rest/api/3/issue/{key}/comment", sandbox.jira_url());

    let response = as_jira(client().post(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "body": adf("From GitHub") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let comment: Value = response.json().await.unwrap();
    assert_eq!(comment["body"], adf("From GitHub"));
    assert_eq!(
        comment["author"]["accountId"],
        jira_account(&sandbox, JIRA_BOT)
    );
    assert_eq!(
        comment["updateAuthor"]["accountId"],
        jira_account(&sandbox, JIRA_BOT)
    );
    assert!(comment["self"].as_str().unwrap().contains("/comment/"));
    let comment_id = comment["id"].as_str().unwrap().to_owned();

    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["webhookEvent"], "comment_created");
    assert!(
        payload.get("user").is_none(),
        "comment events have no top-level user"
    );
    assert_eq!(payload["comment"]["id"], comment_id.as_str());
    assert_eq!(payload["comment"]["body"], "From GitHub");
    assert_eq!(
        payload["comment"]["author"]["accountId"],
        jira_account(&sandbox, JIRA_BOT)
    );
    assert_eq!(payload["issue"]["key"], key.as_str());
    assert_eq!(payload["issue"]["fields"]["summary"], "Comments");

    let comment_url = format!("{url}/{comment_id}");
    let response = as_jira(client().put(&comment_url), &sandbox, JIRA_HUMAN)
        .json(&json!({ "body": adf("Edited in Jira") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["body"], adf("Edited in Jira"));
    assert_eq!(
        edited["author"]["accountId"],
        jira_account(&sandbox, JIRA_BOT)
    );
    assert_eq!(
        edited["updateAuthor"]["accountId"],
        jira_account(&sandbox, JIRA_HUMAN)
    );
    assert!(edited["updated"].as_str() > edited["created"].as_str());
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["webhookEvent"], "comment_updated");
    assert_eq!(payload["comment"]["body"], "Edited in Jira");
    assert_eq!(
        payload["comment"]["updateAuthor"]["accountId"],
        jira_account(&sandbox, JIRA_HUMAN)
    );

    let listed: Value = as_jira(client().get(&url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["comments"][0]["id"], comment_id.as_str());

    let deleted = as_jira(client().delete(&comment_url), &sandbox, JIRA_HUMAN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].json()["webhookEvent"], "comment_deleted");
    assert_eq!(webhooks[0].json()["comment"]["id"], comment_id.as_str());

    let after_delete = as_jira(client().get(&comment_url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(after_delete.status(), 404);

    let empty = as_jira(client().post(&url), &sandbox, JIRA_BOT)
        .json(&json!({ "body": { "type": "doc", "version": 1, "content": [] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
}

#[tokio::test]
async fn remote_links_update_by_global_id() {
    let sandbox = start().await;
    let key = create_jira_issue(&sandbox, JIRA_HUMAN, "Linked").await;
    sandbox.take_webhooks();
    let url = format!("{}/rest/api/3/issue/{key}/remotelink", sandbox.jira_url());
    let link = |title: &str, global_id: Option<&str>| {
        let mut body = json!({
            "object": { "url": "http://127.0.0.1/acme/widgets/issues/1", "title": title },
            "relationship": "mirrors",
        });
        if let Some(global_id) = global_id {
            body["globalId"] = json!(global_id);
        }
        let request = as_jira(client().post(&url), &sandbox, JIRA_BOT).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let (status, first) = link("acme/widgets#1", Some("github:acme/widgets#1")).await;
    assert_eq!(status, 201);
    assert!(first["id"].is_u64());
    assert!(first["self"].as_str().unwrap().contains("/remotelink/"));

    let (status, again) = link("acme/widgets#1 (renamed)", Some("github:acme/widgets#1")).await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], first["id"]);

    let (status, other) = link("other", None).await;
    assert_eq!(status, 201);
    assert_ne!(other["id"], first["id"]);

    let listed: Value = as_jira(client().get(&url), &sandbox, JIRA_BOT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["object"]["title"], "acme/widgets#1 (renamed)");
    assert_eq!(listed[0]["globalId"], "github:acme/widgets#1");

    let (status, body) = {
        let response = as_jira(client().post(&url), &sandbox, JIRA_BOT)
            .json(&json!({ "object": { "url": "http://127.0.0.1/x" } }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 400);
    assert!(body["errors"]["title"].is_string());

    assert_eq!(sandbox.state().jira.remote_links.len(), 2);
    assert!(
        sandbox.take_webhooks().is_empty(),
        "remote links send no webhook"
    );
}

#[tokio::test]
async fn keys_count_per_project_and_timestamps_increase() {
    let sandbox = start().await;
    let first = create_jira_issue(&sandbox, JIRA_HUMAN, "one").await;
    let second = create_jira_issue(&sandbox, JIRA_HUMAN, "two").await;
    assert_eq!(first, "SUP-1");
    assert_eq!(second, "SUP-2");
    let response = as_jira(
        client().post(format!("{}/rest/api/3/issue", sandbox.jira_url())),
        &sandbox,
        JIRA_HUMAN,
    )
    .json(&json!({
        "fields": { "project": { "key": "HR" }, "issuetype": { "id": "10001" }, "summary": "hr" }
    }))
    .send()
    .await
    .unwrap();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["key"], "HR-1");

    let timestamps: Vec<i64> = sandbox
        .take_webhooks()
        .iter()
        .map(|w| w.json()["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(timestamps.len(), 3);
    assert!(
        timestamps.windows(2).all(|pair| pair[0] < pair[1]),
        "{timestamps:?}"
    );
    let state = sandbox.state();
    assert!(state.jira.issues[0].created < state.jira.issues[1].created);
}
