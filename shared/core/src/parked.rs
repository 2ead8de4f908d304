//! Plain-language explanations of why an event is parked, for `proxysync parked show`.

use crate::config::Config;
use crate::model::Instance;
use crate::pipeline::WRITE_CAP_CODE;
use crate::store::ParkedEvent;

/// Explains the last error of a parked event and what an operator can do about it.
///
/// The target instance comes from the event's connection in `config`, so the text can name
/// the secret to fix; without it the text names the tracker only.
pub fn explain(parked: &ParkedEvent, config: &Config) -> String {
    let target = target_instance(parked, config);
    let tracker = target.map_or("the connected tracker", |t| t.tracker.display_name());
    let secret = target.map_or_else(
        || "the target instance's secret".to_owned(),
        |t| format!("secret {}", t.secret),
    );
    let code = parked
        .error_code
        .clone()
        .or_else(|| status_in_message(&parked.error))
        .unwrap_or_default();
    match code.as_str() {
        "401" => format!(
            "{tracker} refused the proxy credentials (401): the token was revoked, expired or \
             rotated. Replace the token in {secret}, then run `proxysync parked replay`."
        ),
        "403" => format!(
            "{tracker} denied the proxy user this action (403): it lacks a permission in the \
             target project. Run `proxysync doctor` to see which one, grant it, then replay."
        ),
        "404" | "410" => format!(
            "{tracker} answered {code}: the linked issue, comment or project is gone, or the \
             proxy user can no longer see it. If it was deleted or moved on purpose, drop this \
             event with `proxysync parked drop {}`.",
            parked.id
        ),
        "400" | "422" => format!(
            "{tracker} rejected the content ({code}): a field value is not accepted there, such \
             as a status without a transition or an unknown issue type. Fix the connection \
             settings, then replay; the last error above has the tracker's message."
        ),
        "429" => format!(
            "{tracker} rate-limited the proxy user (429) for longer than the sync budget. Replay \
             retries on its own with backoff; nothing needs fixing unless it keeps happening."
        ),
        "unreachable" => format!(
            "{tracker} could not be reached or timed out. Replay retries with backoff; check the \
             instance's base_url if this persists."
        ),
        "bad_response" => format!(
            "{tracker} answered with something proxysync could not read. Replay retries; check \
             that the instance's base_url points at the tracker's API."
        ),
        WRITE_CAP_CODE => "The issue had more writes in one minute than the per-issue cap \
             allows, which looks like a write storm or a sync loop. Replay applies it once the \
             minute has passed; look for an automation that edits the issue in a loop."
            .to_owned(),
        code if code.starts_with('5') => format!(
            "{tracker} failed on its side ({code}). Replay retries with backoff; nothing needs \
             fixing unless the tracker stays down."
        ),
        _ => "The sync was refused before or during the tracker call. Read the last error \
              above; replay retries with backoff."
            .to_owned(),
    }
}

fn target_instance<'a>(parked: &ParkedEvent, config: &'a Config) -> Option<&'a Instance> {
    let connection = config
        .connections
        .iter()
        .find(|c| c.id == parked.connection)?;
    let (_, target) = connection.route(&parked.event.instance, &parked.event.project)?;
    config.instance(&target.instance)
}

/// Finds the status in a stored error such as `jira-cloud answered 503 to POST ...`, for events
/// parked before the error code was stored.
fn status_in_message(error: &str) -> Option<String> {
    let rest = error.split(" answered ").nth(1)?;
    let status: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (status.len() == 3).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Author, Change, ChangeEvent, Connection, Direction, Endpoint, IssueContent, IssueRef,
        IssueState, TrackerKind,
    };

    fn config() -> Config {
        let instance = |id: &str, tracker| Instance {
            id: id.to_owned(),
            tracker,
            base_url: "https://example.test".to_owned(),
            secret: format!("proxysync/{id}"),
            proxy: None,
            options: Default::default(),
        };
        let endpoint = |instance: &str, project: &str| Endpoint {
            instance: instance.to_owned(),
            project: project.to_owned(),
            ..Endpoint::default()
        };
        Config {
            instances: vec![
                instance("gh", TrackerKind::Github),
                instance("jira", TrackerKind::JiraCloud),
            ],
            connections: vec![Connection {
                id: "widgets".to_owned(),
                a: endpoint("gh", "acme/widgets"),
                b: endpoint("jira", "SUP"),
                direction: Direction::Both,
            }],
        }
    }

    fn parked(code: Option<&str>, error: &str) -> ParkedEvent {
        ParkedEvent {
            id: "0001#widgets#x".to_owned(),
            event: ChangeEvent {
                kind: "issues.opened".to_owned(),
                tracker: TrackerKind::Github,
                instance: "gh".to_owned(),
                project: "acme/widgets".to_owned(),
                issue: IssueRef::default(),
                content: IssueContent {
                    title: String::new(),
                    body: String::new(),
                    state: IssueState::Open,
                    labels: Vec::new(),
                },
                author: Author::default(),
                at_ms: 0,
                change: Change::IssueCreated,
            },
            connection: "widgets".to_owned(),
            delivery_key: String::new(),
            error: error.to_owned(),
            error_code: code.map(str::to_owned),
            attempts: 0,
            parked_at_ms: 0,
            next_attempt_ms: 0,
        }
    }

    #[test]
    fn unauthorized_names_target_secret() {
        let text = explain(&parked(Some("401"), ""), &config());
        assert!(text.contains("refused the proxy credentials"), "{text}");
        assert!(text.contains("secret proxysync/jira"), "{text}");
        assert!(text.starts_with("Jira"), "{text}");
    }

    #[test]
    fn not_found_says_issue_gone() {
        let text = explain(&parked(Some("404"), ""), &config());
        assert!(text.contains("linked issue"), "{text}");
        assert!(text.contains("parked drop 0001#widgets#x"), "{text}");
    }

    #[test]
    fn rate_limit_and_server_error_retry() {
        assert!(explain(&parked(Some("429"), ""), &config()).contains("rate-limited"));
        let text = explain(&parked(Some("503"), ""), &config());
        assert!(text.contains("failed on its side (503)"), "{text}");
    }

    #[test]
    fn old_records_read_status_from_message() {
        let error = "jira-cloud answered 401 to POST /rest/api/3/issue: Unauthorized";
        let text = explain(&parked(None, error), &config());
        assert!(text.contains("(401)"), "{text}");
    }

    #[test]
    fn write_cap_explained() {
        let text = explain(&parked(Some(WRITE_CAP_CODE), ""), &config());
        assert!(text.contains("write storm"), "{text}");
    }
}
