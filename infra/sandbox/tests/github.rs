//! The fake GitHub REST API over real sockets.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn auth_rejects_missing_and_unknown_tokens() {
    let sandbox = start().await;
    let url = format!("{}/user", sandbox.github_url());

    let anonymous = client().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("x-ratelimit-limit"));
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    assert!(body["documentation_url"].is_string());

    let wrong = client()
        .get(&url)
        .bearer_auth("ghp_not_a_configured_token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let with_token_scheme = client()
        .get(&url)
        .header(
            "Authorization",
            format!("token {}", sandbox.config().github.users[1].token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(with_token_scheme.status(), 200);
}

#[tokio::test]
async fn missing_user_agent_is_forbidden() {
    let sandbox = start().await;
    let token = &sandbox.config().github.users[0].token;
    let bare = reqwest::Client::new();
    let response = bare
        .get(format!("{}/user", sandbox.github_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn user_endpoint_and_response_headers() {
    let sandbox = start().await;
    let url = format!("{}/user", sandbox.github_url());

    let bot = as_github(client().get(&url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(bot.status(), 200);
    let headers = bot.headers().clone();
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-ratelimit-resource",
    ] {
        assert!(headers.contains_key(name), "missing header {name}");
    }
    assert_eq!(headers["x-ratelimit-limit"], "5000");
    assert_eq!(headers["x-ratelimit-used"], "1");
    assert_eq!(headers["x-ratelimit-remaining"], "4999");
    assert_eq!(
        headers["github-authentication-token-expiration"],
        "2026-12-10 12:00:00 UTC"
    );
    let me: Value = bot.json().await.unwrap();
    assert_eq!(me["login"], GITHUB_BOT);
    assert_eq!(me["id"], 41_000_001);
    assert_eq!(me["type"], "User");

    let second = as_github(client().get(&url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(second.headers()["x-ratelimit-used"], "2");

    let human = as_github(client().get(&url), &sandbox, GITHUB_HUMAN)
        .send()
        .await
        .unwrap();
    assert!(
        !human
            .headers()
            .contains_key("github-authentication-token-expiration")
    );
    assert_eq!(human.headers()["x-ratelimit-used"], "1");
}

#[tokio::test]
async fn unknown_repo_and_issue_are_not_found() {
    let sandbox = start().await;
    let missing_repo = format!("{}/repos/acme/nothing/issues", sandbox.github_url());
    let response = as_github(client().get(missing_repo), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Not Found");

    let missing_issue = format!("{}/repos/acme/widgets/issues/99", sandbox.github_url());
    let response = as_github(client().get(missing_issue), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn create_issue_records_opened_and_labeled() {
    let sandbox = start().await;
    let issue = create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "Widget jams", "body": "It **jams**.", "labels": ["bug", {"name": "ui"}] }),
    )
    .await;

    assert_eq!(issue["number"], 1);
    assert_eq!(issue["title"], "Widget jams");
    assert_eq!(issue["body"], "It **jams**.");
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["state_reason"], Value::Null);
    assert_eq!(issue["user"]["login"], GITHUB_HUMAN);
    assert_eq!(issue["comments"], 0);
    assert_eq!(issue["closed_at"], Value::Null);
    assert!(issue["id"].as_u64().unwrap() > i32::MAX as u64);
    assert!(issue["node_id"].is_string());
    assert!(
        issue["html_url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/widgets/issues/1")
    );
    assert_eq!(
        issue["url"],
        format!("{}/repos/acme/widgets/issues/1", sandbox.github_url())
    );
    let labels: Vec<&str> = issue["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|label| label["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["bug", "ui"]);
    assert!(issue["labels"][0]["id"].is_u64());
    assert!(issue["labels"][0]["color"].is_string());
    let created_at = issue["created_at"].as_str().unwrap();
    assert_eq!(created_at.len(), "2026-12-04T16:20:00Z".len());
    assert!(created_at.ends_with('Z'));

    let webhooks = sandbox.take_webhooks();
    let events: Vec<(String, String)> = webhooks.iter().map(github_event).collect();
    assert_eq!(
        events,
        [
            ("issues".to_owned(), "opened".to_owned()),
            ("issues".to_owned(), "labeled".to_owned()),
            ("issues".to_owned(), "labeled".to_owned()),
        ]
    );
    let opened = webhooks[0].json();
    assert_eq!(opened["sender"]["login"], GITHUB_HUMAN);
    assert_eq!(opened["sender"]["id"], 41_000_002);
    assert_eq!(opened["issue"]["number"], 1);
    assert_eq!(opened["repository"]["full_name"], "acme/widgets");
    assert_eq!(opened["repository"]["name"], "widgets");
    assert_eq!(opened["repository"]["owner"]["login"], "acme");
    assert!(opened["repository"]["id"].is_u64());
    assert!(opened["repository"]["html_url"].is_string());
    assert_eq!(webhooks[1].json()["label"]["name"], "bug");
    assert_eq!(webhooks[2].json()["label"]["name"], "ui");
    assert_eq!(webhooks[0].header("Content-Type"), Some("application/json"));
    assert_eq!(
        webhooks[0].header("User-Agent"),
        Some("GitHub-Hookshot/sandbox")
    );
    assert!(webhooks[0].header("X-GitHub-Hook-ID").is_some());
    assert_ne!(
        webhooks[0].header("X-GitHub-Delivery"),
        webhooks[1].header("X-GitHub-Delivery")
    );

    let state = sandbox.state();
    assert_eq!(state.github.issues.len(), 1);
    assert_eq!(state.github.issues[0].author_id, 41_000_002);
    assert_eq!(state.github.labels.len(), 2);
}

#[tokio::test]
async fn create_issue_without_title_is_rejected() {
    let sandbox = start().await;
    let url = format!("{}/repos/acme/widgets/issues", sandbox.github_url());
    let response = as_github(client().post(&url), &sandbox, GITHUB_BOT)
        .json(&json!({ "body": "no title" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(body["errors"][0]["field"], "title");

    let malformed = as_github(client().post(&url), &sandbox, GITHUB_BOT)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(sandbox.take_webhooks().is_empty());
}

#[tokio::test]
async fn patch_issue_records_edit_close_and_reopen() {
    let sandbox = start().await;
    let created = create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "Old title", "body": "Old body" }),
    )
    .await;
    sandbox.take_webhooks();
    let url = format!("{}/repos/acme/widgets/issues/1", sandbox.github_url());
    let patch = |body: Value| {
        let request = as_github(client().patch(&url), &sandbox, GITHUB_BOT).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };

    let edited = patch(json!({ "title": "New title", "body": "New body" })).await;
    assert_eq!(edited["title"], "New title");
    assert!(edited["updated_at"].as_str() > created["updated_at"].as_str());
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["action"], "edited");
    assert_eq!(payload["changes"]["title"]["from"], "Old title");
    assert_eq!(payload["changes"]["body"]["from"], "Old body");
    assert_eq!(payload["issue"]["title"], "New title");
    assert_eq!(payload["sender"]["login"], GITHUB_BOT);

    let closed = patch(json!({ "state": "closed", "state_reason": "not_planned" })).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["state_reason"], "not_planned");
    assert!(closed["closed_at"].is_string());
    assert_eq!(closed["closed_by"]["login"], GITHUB_BOT);
    assert!(closed["updated_at"].as_str() > edited["updated_at"].as_str());
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].json()["action"], "closed");
    assert_eq!(webhooks[0].json()["issue"]["state"], "closed");

    let unchanged = patch(json!({ "state": "closed", "title": "New title" })).await;
    assert_eq!(unchanged["updated_at"], closed["updated_at"]);
    assert!(sandbox.take_webhooks().is_empty());

    let reopened = patch(json!({ "state": "open" })).await;
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["state_reason"], "reopened");
    assert_eq!(reopened["closed_at"], Value::Null);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].json()["action"], "reopened");

    let closed_default = patch(json!({ "state": "closed" })).await;
    assert_eq!(closed_default["state_reason"], "completed");

    let invalid = as_github(client().patch(&url), &sandbox, GITHUB_BOT)
        .json(&json!({ "state": "archived" }))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
}

#[tokio::test]
async fn patch_labels_replaces_set() {
    let sandbox = start().await;
    create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "t", "labels": ["a", "b"] }),
    )
    .await;
    sandbox.take_webhooks();
    let url = format!("{}/repos/acme/widgets/issues/1", sandbox.github_url());
    let response = as_github(client().patch(&url), &sandbox, GITHUB_BOT)
        .json(&json!({ "labels": ["b", "c"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let webhooks = sandbox.take_webhooks();
    let actions: Vec<(String, String)> = webhooks
        .iter()
        .map(|w| {
            let payload = w.json();
            (
                payload["action"].as_str().unwrap().to_owned(),
                payload["label"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("unlabeled".to_owned(), "a".to_owned()),
            ("labeled".to_owned(), "c".to_owned()),
        ]
    );
    assert_eq!(sandbox.state().github.issues[0].labels, ["b", "c"]);
}

#[tokio::test]
async fn comment_create_edit_delete() {
    let sandbox = start().await;
    create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "Needs discussion" }),
    )
    .await;
    sandbox.take_webhooks();
    let comments_url = format!(
        "{}/repos/acme/widgets/issues/1/comments",
        sandbox.github_url()
    );

    let response = as_github(client().post(&comments_url), &sandbox, GITHUB_BOT)
        .json(&json!({ "body": "Synced from Jira" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let comment: Value = response.json().await.unwrap();
    assert_eq!(comment["body"], "Synced from Jira");
    assert_eq!(comment["user"]["login"], GITHUB_BOT);
    assert!(
        comment["html_url"]
            .as_str()
            .unwrap()
            .contains("#issuecomment-")
    );
    assert_eq!(comment["created_at"], comment["updated_at"]);
    let comment_id = comment["id"].as_u64().unwrap();

    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(
        github_event(&webhooks[0]),
        ("issue_comment".to_owned(), "created".to_owned())
    );
    let payload = webhooks[0].json();
    assert_eq!(payload["comment"]["id"], comment_id);
    assert_eq!(payload["comment"]["user"]["login"], GITHUB_BOT);
    assert_eq!(payload["issue"]["user"]["login"], GITHUB_HUMAN);
    assert_eq!(payload["issue"]["comments"], 1);
    assert_eq!(payload["sender"]["login"], GITHUB_BOT);

    let listed: Value = as_github(client().get(&comments_url), &sandbox, GITHUB_HUMAN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let comment_url = format!(
        "{}/repos/acme/widgets/issues/comments/{comment_id}",
        sandbox.github_url()
    );
    let response = as_github(client().patch(&comment_url), &sandbox, GITHUB_HUMAN)
        .json(&json!({ "body": "Edited by a human" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["body"], "Edited by a human");
    assert!(edited["updated_at"].as_str() > edited["created_at"].as_str());
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["action"], "edited");
    assert_eq!(payload["changes"]["body"]["from"], "Synced from Jira");
    assert_eq!(payload["sender"]["login"], GITHUB_HUMAN);

    let deleted = as_github(client().delete(&comment_url), &sandbox, GITHUB_HUMAN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    let payload = webhooks[0].json();
    assert_eq!(payload["action"], "deleted");
    assert_eq!(payload["comment"]["body"], "Edited by a human");
    assert_eq!(payload["issue"]["comments"], 0);

    let after_delete = as_github(client().get(&comment_url), &sandbox, GITHUB_HUMAN)
        .send()
        .await
        .unwrap();
    assert_eq!(after_delete.status(), 404);
    assert!(sandbox.state().github.comments.is_empty());
}

#[tokio::test]
async fn comment_without_body_is_rejected() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "t" })).await;
    let url = format!(
        "{}/repos/acme/widgets/issues/1/comments",
        sandbox.github_url()
    );
    let response = as_github(client().post(url), &sandbox, GITHUB_BOT)
        .json(&json!({ "body": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn labels_add_and_remove() {
    let sandbox = start().await;
    create_github_issue(
        &sandbox,
        GITHUB_HUMAN,
        json!({ "title": "t", "labels": ["bug"] }),
    )
    .await;
    sandbox.take_webhooks();
    let labels_url = format!(
        "{}/repos/acme/widgets/issues/1/labels",
        sandbox.github_url()
    );

    let response = as_github(client().post(&labels_url), &sandbox, GITHUB_BOT)
        .json(&json!({ "labels": ["BUG", "synced"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let all: Value = response.json().await.unwrap();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|label| label["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bug", "synced"]);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1, "only the new label raises an event");
    assert_eq!(webhooks[0].json()["action"], "labeled");
    assert_eq!(webhooks[0].json()["label"]["name"], "synced");

    let remove_url = format!("{labels_url}/bug");
    let response = as_github(client().delete(&remove_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    assert_eq!(rest.as_array().unwrap().len(), 1);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].json()["action"], "unlabeled");
    assert_eq!(webhooks[0].json()["label"]["name"], "bug");

    let absent = as_github(client().delete(&remove_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(absent.status(), 404);
    let body: Value = absent.json().await.unwrap();
    assert_eq!(body["message"], "Label does not exist");

    let spaced = format!("{labels_url}/needs%20triage");
    as_github(client().post(&labels_url), &sandbox, GITHUB_BOT)
        .json(&json!(["needs triage"]))
        .send()
        .await
        .unwrap();
    let response = as_github(client().delete(&spaced), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "label names in the path are URL-decoded"
    );
}

#[tokio::test]
async fn list_issues_filters_and_paginates() {
    let sandbox = start().await;
    for title in ["one", "two", "three"] {
        create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": title })).await;
    }
    let close_url = format!("{}/repos/acme/widgets/issues/2", sandbox.github_url());
    as_github(client().patch(close_url), &sandbox, GITHUB_BOT)
        .json(&json!({ "state": "closed" }))
        .send()
        .await
        .unwrap();
    let list_url = format!("{}/repos/acme/widgets/issues", sandbox.github_url());

    let open: Value = as_github(client().get(&list_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<u64> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 1], "open issues, newest first");

    let first_page_url = format!("{list_url}?state=all&per_page=2&direction=asc");
    let first_page = as_github(client().get(first_page_url), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    let link = first_page.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("rel=\"next\""));
    assert!(link.contains("page=2"));
    let page: Value = first_page.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["number"], 1);

    let closed: Value = as_github(
        client().get(format!("{list_url}?state=closed")),
        &sandbox,
        GITHUB_BOT,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(closed.as_array().unwrap().len(), 1);
    assert_eq!(closed[0]["number"], 2);
}

#[tokio::test]
async fn issue_numbers_are_per_repository() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "widgets 1" })).await;
    let url = format!("{}/repos/acme/secret-plans/issues", sandbox.github_url());
    let response = as_github(client().post(url), &sandbox, GITHUB_HUMAN)
        .json(&json!({ "title": "plans 1" }))
        .send()
        .await
        .unwrap();
    let issue: Value = response.json().await.unwrap();
    assert_eq!(issue["number"], 1);
    let webhooks = sandbox.take_webhooks();
    assert_eq!(
        webhooks[1].json()["repository"]["full_name"],
        "acme/secret-plans"
    );
}

#[tokio::test]
async fn timestamps_increase_within_one_second() {
    let sandbox = start().await;
    create_github_issue(&sandbox, GITHUB_HUMAN, json!({ "title": "t" })).await;
    let url = format!("{}/repos/acme/widgets/issues/1", sandbox.github_url());
    let mut previous = String::new();
    for round in 0..4 {
        let issue: Value = as_github(client().patch(&url), &sandbox, GITHUB_BOT)
            .json(&json!({ "title": format!("title {round}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let updated = issue["updated_at"].as_str().unwrap().to_owned();
        assert!(updated > previous, "{updated} is not after {previous}");
        previous = updated;
    }
}

#[tokio::test]
async fn hook_deliveries_page_with_cursor() {
    let sandbox = start().await;
    let issues = format!("{}/repos/acme/widgets/issues", sandbox.github_url());
    for title in ["one", "two", "three"] {
        let created = as_github(client().post(&issues), &sandbox, GITHUB_HUMAN)
            .json(&json!({"title": title}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    for webhook in sandbox.take_webhooks() {
        let guid = webhook.header("X-GitHub-Delivery").unwrap();
        assert!(sandbox.set_github_delivery_status(guid, 502));
    }

    let deliveries = format!(
        "{}/repos/acme/widgets/hooks/100000001/deliveries?per_page=2",
        sandbox.github_url()
    );
    let first = as_github(client().get(&deliveries), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = first.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let next = link
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("one next link: {link}"));
    assert!(
        next.starts_with(&format!(
            "{}/repositories/700000001/hooks/100000001/deliveries?per_page=2&cursor=v1_",
            sandbox.github_url()
        )),
        "{next}"
    );

    let second = as_github(client().get(next), &sandbox, GITHUB_BOT)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert!(!second.headers().contains_key("link"));
    let rest: Value = second.json().await.unwrap();
    let ids = |page: &Value| -> Vec<u64> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&rest).len(), 1);
    assert!(ids(&rest)[0] < ids(&page)[1], "newest first across pages");

    let invalid = as_github(
        client().get(format!("{deliveries}&cursor=not-a-cursor")),
        &sandbox,
        GITHUB_BOT,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(invalid.status(), 400);
}
