//! The tracker modules this build supports.

pub mod azure_devops;
pub mod github;
pub mod hp_alm;
pub mod jira;
pub mod jira_dc;
pub mod salesforce;
pub mod servicenow;
pub mod signature;
pub mod zendesk;

use crate::model::TrackerKind;
use crate::tracker::TrackerModule;

/// Returns true when some tracker kind of this build is served by the `{tracker}` route `route`.
pub fn has_route(route: &str) -> bool {
    TrackerKind::ALL
        .iter()
        .any(|kind| kind.route() == route && module(*kind).is_some())
}

/// Returns the module for `kind`, or `None` when this build does not support it yet.
pub fn module(kind: TrackerKind) -> Option<&'static dyn TrackerModule> {
    match kind {
        TrackerKind::Github => Some(&github::Github),
        TrackerKind::JiraCloud => Some(&jira::JiraCloud),
        TrackerKind::JiraDc => Some(&jira_dc::JiraDc),
        TrackerKind::Zendesk => Some(&zendesk::Zendesk),
        TrackerKind::AzureDevops => Some(&azure_devops::AzureDevops),
        TrackerKind::Servicenow => Some(&servicenow::Servicenow),
        TrackerKind::Salesforce => Some(&salesforce::Salesforce),
        TrackerKind::HpAlm => Some(&hp_alm::HpAlm),
    }
}
