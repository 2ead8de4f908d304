//! The fake Jira Data Center's search over real sockets.

mod common;

use common::*;
use serde_json::{Value, json};

/// Sends a request as the Jira Data Center user at `index` with Basic name:password.
fn as_dc(
    request: reqwest::RequestBuilder,
    sandbox: &tracker_sandbox::Sandbox,
    index: usize,
) -> reqwest::RequestBuilder {
    let user = &sandbox.config().jira_dc.users[index];
    request.basic_auth(&user.name, Some(&user.password))
}

#[tokio::test]
async fn search_reads_dates_in_user_zone() {
    let sandbox = start().await;
    let created = as_dc(
        client().post(format!("{}/rest/api/2/issue", sandbox.jira_dc_url())),
        &sandbox,
        1,
    )
    .json(&json!({"fields": {"project": {"key": "OPS"}, "summary": "Searchable"}}))
    .send()
    .await
    .unwrap();
    assert_eq!(created.status(), 201);

    let search = |jql: String| {
        as_dc(
            client().get(
                url::Url::parse_with_params(
                    &format!("{}/rest/api/2/search", sandbox.jira_dc_url()),
                    [("jql", jql.as_str()), ("maxResults", "10")],
                )
                .unwrap(),
            ),
            &sandbox,
            0,
        )
        .send()
    };
    // The proxy user is in Europe/Berlin, an hour or two ahead of UTC, so the current UTC
    // time read as Berlin time lies before the update.
    let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let now = jiff::Timestamp::now();
    let utc_now = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let berlin_soon = (now + jiff::SignedDuration::from_mins(2)).to_zoned_datetime(zone);
    for (date, expected) in [
        (utc_now.strftime("%Y/%m/%d %H:%M").to_string(), 1),
        (berlin_soon.strftime("%Y/%m/%d %H:%M").to_string(), 0),
    ] {
        let jql = format!("project in (\"OPS\") AND updated >= \"{date}\" ORDER BY updated ASC");
        let answer = search(jql).await.unwrap();
        assert_eq!(answer.status(), 200);
        let page: Value = answer.json().await.unwrap();
        assert_eq!(page["total"], expected, "{date}: {page}");
        assert_eq!(page["startAt"], 0);
    }

    sandbox.deny_jira_dc_permission("JIRAUSER10100", "BROWSE_PROJECTS");
    let hidden = search("project in (OPS) AND updated >= -1d".to_owned())
        .await
        .unwrap();
    assert_eq!(hidden.status(), 400);
    let error: Value = hidden.json().await.unwrap();
    assert!(
        error.to_string().contains("'OPS' does not exist"),
        "{error}"
    );
}
