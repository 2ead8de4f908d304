//! The instance options each tracker accepts, and the check of an instance's `options` map.
//!
//! Each tracker module declares the keys it reads in [`crate::tracker::TrackerModule::instance_options`].
//! [`check_instance`] rejects any other key, and a value whose JSON type the reading code would
//! ignore, so a typo or a wrong type fails at `instance add` or `explain --config` instead of
//! falling back to a default in silence.

use serde_json::Value;

use crate::doctor::CONNECTED_PROJECTS;
use crate::model::Instance;

/// The JSON type an option must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// A string.
    Text,
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// An integer.
    WholeNumber,
    /// `true` or `false`.
    Boolean,
    /// A list of strings.
    TextList,
    /// A list of strings, or one string of comma-separated values.
    TextListOrCommaText,
    /// An integer, or a string of digits (an id that a tracker prints as a number).
    NumericId,
    /// An object whose values are [`OptionKind::NumericId`] values.
    NumericIdMap,
}

impl OptionKind {
    /// Returns true when `value` has this type.
    fn accepts(self, value: &Value) -> bool {
        let numeric_id = |value: &Value| match value {
            Value::Number(number) => number.is_u64(),
            Value::String(text) => !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()),
            _ => false,
        };
        let text_list = |value: &Value| {
            value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string))
        };
        match self {
            OptionKind::Text => value.is_string(),
            OptionKind::OneOf(choices) => value.as_str().is_some_and(|v| choices.contains(&v)),
            OptionKind::WholeNumber => value.is_i64(),
            OptionKind::Boolean => value.is_boolean(),
            OptionKind::TextList => text_list(value),
            OptionKind::TextListOrCommaText => value.is_string() || text_list(value),
            OptionKind::NumericId => numeric_id(value),
            OptionKind::NumericIdMap => value
                .as_object()
                .is_some_and(|map| map.values().all(numeric_id)),
        }
    }

    /// Describes the expected type, for error messages.
    fn expected(self) -> String {
        match self {
            OptionKind::Text => "text (quote it in YAML when it looks like a number)".to_owned(),
            OptionKind::OneOf(choices) => format!("one of {}", choices.join(", ")),
            OptionKind::WholeNumber => "a whole number".to_owned(),
            OptionKind::Boolean => "true or false".to_owned(),
            OptionKind::TextList => "a list of text, such as [\"A\", \"B\"]".to_owned(),
            OptionKind::TextListOrCommaText => {
                "a list of text, such as [\"A\", \"B\"], or comma-separated text".to_owned()
            }
            OptionKind::NumericId => "a numeric id, such as 12345678".to_owned(),
            OptionKind::NumericIdMap => {
                "an object of owner/repo to numeric hook id, such as {\"acme/widgets\": 12345678}"
                    .to_owned()
            }
        }
    }

    /// Returns true when the option's value is text, so `--option KEY=VALUE` keeps VALUE as
    /// typed instead of reading it as JSON (`api_version=61.0` stays the text `61.0`).
    pub fn is_text(self) -> bool {
        matches!(self, OptionKind::Text | OptionKind::OneOf(_))
    }
}

/// One instance option that a tracker reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceOption {
    pub name: &'static str,
    pub kind: OptionKind,
}

impl InstanceOption {
    pub const fn new(name: &'static str, kind: OptionKind) -> InstanceOption {
        InstanceOption { name, kind }
    }
}

/// Returns the options that instances of `tracker` accept: the tracker module's own
/// and, for trackers with OAuth refresh, those of [`crate::oauth`].
pub fn accepted(tracker: crate::model::TrackerKind) -> Vec<InstanceOption> {
    let mut options: Vec<InstanceOption> = crate::trackers::module(tracker)
        .map(|module| module.instance_options().to_vec())
        .unwrap_or_default();
    if crate::oauth::provider(tracker).is_some() {
        for option in crate::oauth::INSTANCE_OPTIONS {
            if !options.iter().any(|known| known.name == option.name) {
                options.push(*option);
            }
        }
    }
    options
}

/// Checks the keys and value types of an instance's options.
///
/// `connected_projects` is always accepted, because `proxysync doctor` and the catch-up fill it
/// in from the connections at run time.
///
/// # Errors
/// A message naming the instance, the unknown key and the accepted keys, or the invalid value
/// and the expected type.
pub fn check_instance(instance: &Instance) -> Result<(), String> {
    let accepted = accepted(instance.tracker);
    for (name, value) in &instance.options {
        if name == CONNECTED_PROJECTS {
            continue;
        }
        let Some(option) = accepted.iter().find(|option| option.name == name) else {
            let names: Vec<&str> = accepted.iter().map(|option| option.name).collect();
            let known = if names.is_empty() {
                format!(
                    "{} instances take no options, so remove it",
                    instance.tracker
                )
            } else {
                format!(
                    "{} instances accept only {}, so fix or remove it",
                    instance.tracker,
                    names.join(", ")
                )
            };
            return Err(format!(
                "instance {:?} has unknown option {name:?}: {known}",
                instance.id
            ));
        };
        if !option.kind.accepts(value) {
            return Err(format!(
                "instance {:?} has invalid option {name}={value}: expected {}",
                instance.id,
                option.kind.expected()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::TrackerKind;

    fn instance(tracker: TrackerKind, options: Value) -> Instance {
        Instance {
            id: "acme".to_owned(),
            tracker,
            base_url: "https://tracker.example".to_owned(),
            secret: "proxysync/acme".to_owned(),
            proxy: None,
            options: options.as_object().cloned().unwrap(),
        }
    }

    #[test]
    fn unknown_key_names_accepted_keys() {
        let error =
            check_instance(&instance(TrackerKind::Github, json!({"hook_idd": 5}))).unwrap_err();
        assert!(error.contains("\"hook_idd\""), "{error}");
        assert!(error.contains("\"acme\""), "{error}");
        assert!(error.contains("hook_id, hook_repo, hooks"), "{error}");
    }

    #[test]
    fn tracker_without_options_rejects_any() {
        let error = check_instance(&instance(
            TrackerKind::JiraCloud,
            json!({"projects": ["SUP"]}),
        ))
        .unwrap_err();
        assert!(error.contains("take no options"), "{error}");
    }

    #[test]
    fn wrong_type_names_value_and_type() {
        let error = check_instance(&instance(
            TrackerKind::Github,
            json!({"hook_id": "notanumber"}),
        ))
        .unwrap_err();
        assert!(error.contains("hook_id=\"notanumber\""), "{error}");
        assert!(error.contains("a numeric id"), "{error}");

        let error = check_instance(&instance(
            TrackerKind::Zendesk,
            json!({"signature_max_age_secs": "ten"}),
        ))
        .unwrap_err();
        assert!(error.contains("a whole number"), "{error}");

        let error = check_instance(&instance(
            TrackerKind::Servicenow,
            json!({"journal_field": "notes"}),
        ))
        .unwrap_err();
        assert!(error.contains("one of work_notes, comments"), "{error}");
    }

    #[test]
    fn connected_projects_always_accepted() {
        for tracker in TrackerKind::ALL {
            let options = json!({"connected_projects": ["acme/widgets"]});
            assert_eq!(
                check_instance(&instance(tracker, options)),
                Ok(()),
                "{tracker}"
            );
        }
    }

    #[test]
    fn options_read_by_code_accepted() {
        let cases = [
            (
                TrackerKind::Github,
                json!({"hook_id": 42, "hook_repo": "acme/widgets", "hooks": {"acme/a": "7"}}),
            ),
            (TrackerKind::JiraDc, json!({"projects": ["OPS"]})),
            (
                TrackerKind::AzureDevops,
                json!({"projects": ["Web Shop"], "webhook_header": "X-Secret",
                       "closed_states": ["Done"]}),
            ),
            (
                TrackerKind::Servicenow,
                json!({"journal_field": "comments", "token_url": "https://sn.example/oauth",
                       "refresh_token_lifetime_secs": 8640000}),
            ),
            (TrackerKind::Zendesk, json!({"signature_max_age_secs": 600})),
            (
                TrackerKind::Salesforce,
                json!({"organization_id": "00D000000000042AAA",
                       "sobject_types": ["Case", "CaseComment"], "session_timeout_secs": 7200,
                       "api_version": "60.0", "title_field": "Subject",
                       "body_field": "Description", "status_field": "Status",
                       "closed_statuses": "Closed, Resolved", "comment_object": "FeedItem",
                       "comment_published": true, "token_url": "https://login.example/token",
                       "refresh_token_lifetime_secs": 86400}),
            ),
            (
                TrackerKind::HpAlm,
                json!({"projects": "DEFAULT/Example", "closed_statuses": ["Closed"],
                       "poll_overlap_secs": 120, "page_size": 100, "utc_offset_minutes": -300,
                       "initial_lookback_secs": 3600}),
            ),
        ];
        for (tracker, options) in cases {
            assert_eq!(
                check_instance(&instance(tracker, options)),
                Ok(()),
                "{tracker}"
            );
        }
    }
}
