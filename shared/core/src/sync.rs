//! Mapping one change event onto the target tracker: the decision and the target calls.
//!
//! Nothing here touches DynamoDB, so `explain` runs the same code as a dry run.

use sha2::{Digest, Sha256};
use tracing::warn;

use crate::config::Config;
use crate::error::TargetError;
use crate::http::Api;
use crate::model::{
    Change, ChangeEvent, Connection, Endpoint, Field, Instance, IssueContent, IssueRef,
};
use crate::tracker::{IssueUpdate, Peer, TrackerModule};
use crate::trackers;

/// Why an event was not synced through a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    ProxyAuthor,
    NotConnected,
    Stale,
    Echo,
    NotLinked,
    CommentNotLinked,
    OutsideProject,
    NothingToChange,
}

impl SkipReason {
    /// A short machine-readable code for metrics and JSON.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::ProxyAuthor => "proxy_author",
            SkipReason::NotConnected => "not_connected",
            SkipReason::Stale => "stale",
            SkipReason::Echo => "echo",
            SkipReason::NotLinked => "issue_not_linked",
            SkipReason::CommentNotLinked => "comment_not_linked",
            SkipReason::OutsideProject => "outside_project",
            SkipReason::NothingToChange => "nothing_to_change",
        }
    }

    /// A plain sentence for logs and `explain`.
    pub fn describe(&self) -> &'static str {
        match self {
            SkipReason::ProxyAuthor => {
                "the proxy user made this change, so syncing it back would loop"
            }
            SkipReason::NotConnected => "no connection covers this project in this direction",
            SkipReason::Stale => "a newer change of this issue was already applied",
            SkipReason::Echo => {
                "every changed value is one that proxysync itself wrote onto this issue moments ago"
            }
            SkipReason::NotLinked => {
                "the issue has no linked issue yet, and a comment event cannot create one"
            }
            SkipReason::CommentNotLinked => {
                "this comment was never synced, so there is nothing to change"
            }
            SkipReason::OutsideProject => "the linked issue is outside the connected project",
            SkipReason::NothingToChange => "the change touches no synced field",
        }
    }
}

/// A connection that an event flows through, with both ends resolved.
#[derive(Clone, Debug)]
pub struct Route<'a> {
    pub connection: &'a Connection,
    pub source: &'a Endpoint,
    pub target: &'a Endpoint,
    pub target_instance: &'a Instance,
}

/// Returns the connections `event` flows through, or why it flows through none.
///
/// # Errors
/// [`SkipReason::ProxyAuthor`] or [`SkipReason::NotConnected`].
pub fn route<'a>(
    config: &'a Config,
    source: &Instance,
    event: &ChangeEvent,
) -> Result<Vec<Route<'a>>, SkipReason> {
    let by_proxy = source
        .proxy
        .as_ref()
        .is_some_and(|proxy| proxy.id == event.author.id);
    if by_proxy {
        return Err(SkipReason::ProxyAuthor);
    }
    let routes: Vec<Route<'a>> = config
        .connections
        .iter()
        .filter_map(|connection| {
            let (from, to) = connection.route(&event.instance, &event.project)?;
            let target_instance = config.instance(&to.instance)?;
            Some(Route {
                connection,
                source: from,
                target: to,
                target_instance,
            })
        })
        .collect();
    if routes.is_empty() {
        return Err(SkipReason::NotConnected);
    }
    Ok(routes)
}

/// The fingerprint of issue content, to recognise our own writes when they come back.
pub fn fingerprint(content: &IssueContent) -> String {
    let mut hash = Sha256::new();
    hash.update(content.title.trim().as_bytes());
    hash.update([0]);
    hash.update(proxysync_formats::canonical_markdown(&content.body).as_bytes());
    hash.update([0]);
    hash.update(format!("{:?}", content.state).as_bytes());
    hex::encode(&hash.finalize()[..16])
}

/// Returns the fields an issue event writes onto the target: the changed fields of an update,
/// and every synced field of a create (labels only when there are some).
pub fn written_fields(event: &ChangeEvent) -> Vec<Field> {
    match &event.change {
        Change::IssueUpdated { fields, .. } => fields.clone(),
        Change::IssueCreated => {
            let mut fields = vec![Field::Title, Field::Body, Field::State];
            if !event.content.labels.is_empty() {
                fields.push(Field::Labels);
            }
            fields
        }
        _ => Vec::new(),
    }
}

/// Hashes one field's value so that it compares equal across trackers: titles trimmed,
/// descriptions as canonical Markdown, labels as a sorted set.
pub fn field_hash(field: Field, content: &IssueContent) -> String {
    let mut hash = Sha256::new();
    match field {
        Field::Title => hash.update(content.title.trim().as_bytes()),
        Field::Body => hash.update(proxysync_formats::canonical_markdown(&content.body).as_bytes()),
        Field::State => hash.update(format!("{:?}", content.state).as_bytes()),
        Field::Labels => {
            let mut labels: Vec<&str> = content.labels.iter().map(|l| l.trim()).collect();
            labels.sort_unstable();
            labels.dedup();
            for label in labels {
                hash.update(label.as_bytes());
                hash.update([0]);
            }
        }
    }
    hex::encode(&hash.finalize()[..12])
}

/// Hashes a comment body as canonical Markdown, to compare what proxysync wrote with what a
/// tracker reports.
pub fn comment_hash(body: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(proxysync_formats::canonical_markdown(body).as_bytes());
    hex::encode(&hash.finalize()[..12])
}

/// Splits the fields an issue event changed into those whose new value proxysync wrote onto
/// this issue (`echoes` contains the unexpired hashes) and the rest.
///
/// Returns `(echoed, other)`.
pub fn split_echoes(
    event: &ChangeEvent,
    echoes: &std::collections::BTreeMap<Field, String>,
) -> (Vec<Field>, Vec<Field>) {
    written_fields(event)
        .into_iter()
        .partition(|field| echoes.get(field) == Some(&field_hash(*field, &event.content)))
}

/// Returns a copy of an issue event without the `echoed` fields, or `None` when nothing is left.
pub fn without_fields(event: &ChangeEvent, echoed: &[Field]) -> Option<ChangeEvent> {
    let (mut fields, mut labels_added, mut labels_removed) = match &event.change {
        Change::IssueUpdated {
            fields,
            labels_added,
            labels_removed,
        } => (fields.clone(), labels_added.clone(), labels_removed.clone()),
        Change::IssueCreated => (
            written_fields(event),
            event.content.labels.clone(),
            Vec::new(),
        ),
        _ => return Some(event.clone()),
    };
    fields.retain(|field| !echoed.contains(field));
    if echoed.contains(&Field::Labels) {
        labels_added.clear();
        labels_removed.clear();
    }
    if fields.is_empty() {
        return None;
    }
    let mut rest = event.clone();
    rest.change = Change::IssueUpdated {
        fields,
        labels_added,
        labels_removed,
    };
    Some(rest)
}

/// Returns the update of the target issue that an issue change calls for.
pub fn issue_update(event: &ChangeEvent) -> IssueUpdate {
    let content = &event.content;
    match &event.change {
        Change::IssueUpdated {
            fields,
            labels_added,
            labels_removed,
        } => IssueUpdate {
            title: fields
                .contains(&Field::Title)
                .then(|| content.title.clone()),
            body: fields.contains(&Field::Body).then(|| content.body.clone()),
            state: fields.contains(&Field::State).then_some(content.state),
            labels_add: labels_added.clone(),
            labels_remove: labels_removed.clone(),
        },
        _ => IssueUpdate {
            title: Some(content.title.clone()),
            body: Some(content.body.clone()),
            state: Some(content.state),
            labels_add: content.labels.clone(),
            labels_remove: Vec::new(),
        },
    }
}

/// The comment body written on the target: an attribution line, then the original text.
pub fn attributed_comment(event: &ChangeEvent, body: &str, author: &str) -> String {
    let tracker = event.tracker.display_name();
    format!(
        "**{author}** commented on {tracker} [{}]({}):\n\n{body}",
        event.issue.key, event.issue.url
    )
}

/// What the target calls achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The peer issue was created.
    Created(IssueRef),
    Updated,
    CommentAdded {
        peer_comment: String,
    },
    CommentUpdated,
    CommentDeleted,
    Skipped(SkipReason),
}

/// The target side of one sync: the module, its client, and what is known of the link.
pub struct ApplyContext<'a> {
    pub event: &'a ChangeEvent,
    pub route: &'a Route<'a>,
    pub module: &'static dyn TrackerModule,
    pub api: &'a Api,
    /// The linked issue on the target, when there is one.
    pub peer: Option<&'a IssueRef>,
    /// The linked comment on the target, for comment edits and deletions.
    pub peer_comment: Option<&'a str>,
}

/// Calls the target tracker for one event through one connection.
///
/// # Errors
/// The first target call that failed past its retries.
pub async fn apply(cx: &ApplyContext<'_>) -> Result<Applied, TargetError> {
    let target = cx.module.target();
    let event = cx.event;

    let Some(peer) = cx.peer else {
        if !event.is_issue_change() {
            return Ok(Applied::Skipped(SkipReason::NotLinked));
        }
        let created = target
            .create_issue_for(cx.api, cx.route.target, &event.content, &event.issue)
            .await?;
        return Ok(Applied::Created(created));
    };
    if !target.in_project(cx.route.target, peer) {
        return Ok(Applied::Skipped(SkipReason::OutsideProject));
    }

    // Skips that need no tracker call come first, so the scope read below runs only before a write.
    let update = issue_update(event);
    let peer_comment = match &event.change {
        Change::IssueCreated | Change::IssueUpdated { .. } if update.is_empty() => {
            return Ok(Applied::Skipped(SkipReason::NothingToChange));
        }
        Change::CommentUpdated { .. } | Change::CommentDeleted { .. } => match cx.peer_comment {
            Some(peer_comment) => peer_comment,
            None => return Ok(Applied::Skipped(SkipReason::CommentNotLinked)),
        },
        // Only comment edits and deletions use the linked comment.
        _ => "",
    };
    if let Some(reason) = target
        .check_in_project(cx.api, cx.route.target, peer)
        .await?
    {
        warn!(
            connection = %cx.route.connection.id,
            target = %peer.key,
            reason = %reason,
            "write rejected: the linked issue is outside the connected project"
        );
        return Ok(Applied::Skipped(SkipReason::OutsideProject));
    }

    match &event.change {
        Change::IssueCreated | Change::IssueUpdated { .. } => {
            target
                .update_issue(cx.api, cx.route.target, peer, &update)
                .await?;
            Ok(Applied::Updated)
        }
        Change::CommentCreated { comment } => {
            let body = attributed_comment(event, &comment.body, &comment.author.name);
            let id = target.add_comment(cx.api, peer, &body).await?;
            Ok(Applied::CommentAdded { peer_comment: id })
        }
        Change::CommentUpdated { comment } => {
            let body = attributed_comment(event, &comment.body, &comment.author.name);
            target
                .update_comment(cx.api, peer, peer_comment, &body)
                .await?;
            Ok(Applied::CommentUpdated)
        }
        Change::CommentDeleted { .. } => {
            target.delete_comment(cx.api, peer, peer_comment).await?;
            Ok(Applied::CommentDeleted)
        }
    }
}

/// Links a newly created peer with its source: each side records where the other lives.
///
/// # Errors
/// The first link call that failed.
pub async fn link_both(
    event: &ChangeEvent,
    created: &IssueRef,
    target_module: &'static dyn TrackerModule,
    target_api: &Api,
    source_api: Option<&Api>,
) -> Result<(), TargetError> {
    let source_peer = Peer {
        tracker: event.tracker.display_name(),
        issue: &event.issue,
    };
    target_module
        .target()
        .link(target_api, created, &source_peer)
        .await?;

    if let Some(source_api) = source_api {
        let target_peer = Peer {
            tracker: target_api.tracker().display_name(),
            issue: created,
        };
        let source_module =
            trackers::module(event.tracker).expect("events come from supported trackers");
        source_module
            .target()
            .link(source_api, &event.issue, &target_peer)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, IssueState, TrackerKind};

    fn event(change: Change) -> ChangeEvent {
        ChangeEvent {
            kind: "issues.edited".to_owned(),
            tracker: TrackerKind::Github,
            instance: "gh".to_owned(),
            project: "acme/widgets".to_owned(),
            issue: IssueRef {
                key: "acme/widgets#1".to_owned(),
                id: "I_1".to_owned(),
                url: "https://github.com/acme/widgets/issues/1".to_owned(),
            },
            content: IssueContent {
                title: "Title".to_owned(),
                body: "Body".to_owned(),
                state: IssueState::Closed,
                labels: vec!["bug".to_owned()],
            },
            author: Author {
                id: "1".to_owned(),
                name: "alice".to_owned(),
            },
            at_ms: 0,
            change,
        }
    }

    #[test]
    fn edit_updates_only_changed_fields() {
        let change = Change::IssueUpdated {
            fields: vec![Field::Title],
            labels_added: vec![],
            labels_removed: vec![],
        };
        let update = issue_update(&event(change));
        assert_eq!(update.title.as_deref(), Some("Title"));
        assert_eq!(update.body, None);
        assert_eq!(update.state, None);
    }

    #[test]
    fn label_change_carries_diff() {
        let change = Change::IssueUpdated {
            fields: vec![Field::Labels],
            labels_added: vec!["a".to_owned()],
            labels_removed: vec!["b".to_owned()],
        };
        let update = issue_update(&event(change));
        assert_eq!(update.labels_add, vec!["a"]);
        assert_eq!(update.labels_remove, vec!["b"]);
        assert_eq!(update.title, None);
    }

    fn echoes_of(
        event: &ChangeEvent,
        fields: &[Field],
    ) -> std::collections::BTreeMap<Field, String> {
        fields
            .iter()
            .map(|field| (*field, field_hash(*field, &event.content)))
            .collect()
    }

    #[test]
    fn echo_of_every_changed_field_drops_event() {
        let edited = event(Change::IssueUpdated {
            fields: vec![Field::Title, Field::State],
            labels_added: vec![],
            labels_removed: vec![],
        });
        let echoes = echoes_of(&edited, &[Field::Title, Field::State, Field::Body]);
        let (echoed, other) = split_echoes(&edited, &echoes);
        assert_eq!(echoed, vec![Field::Title, Field::State]);
        assert!(other.is_empty());
        assert_eq!(without_fields(&edited, &echoed), None);
    }

    #[test]
    fn partial_echo_keeps_other_fields() {
        let edited = event(Change::IssueUpdated {
            fields: vec![Field::Title, Field::State, Field::Labels],
            labels_added: vec!["bug".to_owned()],
            labels_removed: vec![],
        });
        let echoes = echoes_of(&edited, &[Field::Title, Field::Labels]);
        let (echoed, other) = split_echoes(&edited, &echoes);
        assert_eq!(echoed, vec![Field::Title, Field::Labels]);
        assert_eq!(other, vec![Field::State]);
        let rest = without_fields(&edited, &echoed).expect("the state change remains");
        let update = issue_update(&rest);
        assert_eq!(update.title, None);
        assert_eq!(update.state, Some(IssueState::Closed));
        assert!(update.labels_add.is_empty());
    }

    #[test]
    fn changed_value_is_no_echo() {
        let edited = event(Change::IssueUpdated {
            fields: vec![Field::Title],
            labels_added: vec![],
            labels_removed: vec![],
        });
        let mut earlier = edited.clone();
        earlier.content.title = "Older title".to_owned();
        let echoes = echoes_of(&earlier, &[Field::Title]);
        let (echoed, other) = split_echoes(&edited, &echoes);
        assert!(echoed.is_empty());
        assert_eq!(other, vec![Field::Title]);
    }

    #[test]
    fn create_echo_covers_labels() {
        let created = event(Change::IssueCreated);
        assert_eq!(
            written_fields(&created),
            vec![Field::Title, Field::Body, Field::State, Field::Labels]
        );
        let echoes = echoes_of(&created, &[Field::Title, Field::Body, Field::State]);
        let rest =
            without_fields(&created, &split_echoes(&created, &echoes).0).expect("labels remain");
        assert!(matches!(
            &rest.change,
            Change::IssueUpdated { fields, labels_added, .. }
                if fields == &vec![Field::Labels] && labels_added == &vec!["bug".to_owned()]
        ));
    }

    #[test]
    fn label_hash_ignores_order() {
        let mut first = event(Change::IssueCreated).content;
        first.labels = vec!["b".to_owned(), "a".to_owned()];
        let mut second = first.clone();
        second.labels = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            field_hash(Field::Labels, &first),
            field_hash(Field::Labels, &second)
        );
    }

    #[test]
    fn fingerprint_ignores_markdown_spelling() {
        let mut first = event(Change::IssueCreated).content;
        let mut second = first.clone();
        first.body = "*emphasis*".to_owned();
        second.body = "_emphasis_".to_owned();
        assert_eq!(fingerprint(&first), fingerprint(&second));
    }

    #[test]
    fn fingerprint_sees_state() {
        let first = event(Change::IssueCreated).content;
        let mut second = first.clone();
        second.state = IssueState::Open;
        assert_ne!(fingerprint(&first), fingerprint(&second));
    }

    #[test]
    fn attribution_names_author_and_tracker() {
        let body = attributed_comment(&event(Change::IssueCreated), "hello", "alice");
        assert!(body.starts_with("**alice** commented on GitHub"), "{body}");
        assert!(body.ends_with("\n\nhello"), "{body}");
    }
}
