//! The log of tracker API requests the sandbox received.

use serde::{Deserialize, Serialize};

/// One request to the GitHub or Jira API routes, logged when it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path including the `/github` or `/jira` prefix and the query string.
    pub path: String,
    /// "github" or "jira".
    pub tracker: String,
    /// GitHub user id (as a decimal string) or Jira account id of the authenticated caller,
    /// `None` when the credentials were missing or invalid.
    pub user_id: Option<String>,
    /// Status code returned, or 0 while the response is pending or when the client went away
    /// before it was sent.
    pub status: u16,
    /// Whether an injected fault replaced or delayed the response.
    pub fault: bool,
}

/// Position of a logged request, used to fill in its status once the response is ready.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestSlot {
    generation: u64,
    index: usize,
}

/// Requests in arrival order. `generation` changes on every clear, so that a response finishing
/// after a reset does not write into an entry of the new log.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    generation: u64,
    entries: Vec<RecordedRequest>,
}

impl RequestLog {
    pub(crate) fn start(&mut self, request: RecordedRequest) -> RequestSlot {
        self.entries.push(request);
        RequestSlot {
            generation: self.generation,
            index: self.entries.len() - 1,
        }
    }

    pub(crate) fn finish(&mut self, slot: RequestSlot, status: u16) {
        if slot.generation != self.generation {
            return;
        }
        if let Some(entry) = self.entries.get_mut(slot.index) {
            entry.status = status;
        }
    }

    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        self.entries.clone()
    }

    pub(crate) fn clear(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }
}
