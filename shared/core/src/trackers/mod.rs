//! The tracker modules this build supports.

pub mod github;
pub mod jira;
pub mod signature;

use crate::model::TrackerKind;
use crate::tracker::TrackerModule;

/// The `{tracker}` route segments that have a webhook function in this build.
pub const ROUTES: [&str; 2] = ["github", "jira"];

/// Returns the module for `kind`, or `None` when this build does not support it yet.
pub fn module(kind: TrackerKind) -> Option<&'static dyn TrackerModule> {
    match kind {
        TrackerKind::Github => Some(&github::Github),
        TrackerKind::JiraCloud => Some(&jira::JiraCloud),
        _ => None,
    }
}
