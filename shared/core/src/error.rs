//! Error types of the pipeline, with the HTTP status each one returns.

use std::time::Duration;

use crate::model::TrackerKind;

/// Why an inbound request was rejected before anything was stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    #[error("unknown tracker route {0:?}: this build has no webhook function for it")]
    UnknownRoute(String),
    #[error("unknown instance {0:?}: register it with `proxysync instance add`")]
    UnknownInstance(String),
    #[error(
        "instance {instance:?} is a {actual} instance, not reachable through the {route} route"
    )]
    WrongRoute {
        instance: String,
        actual: TrackerKind,
        route: String,
    },
    #[error("missing signature header {0}: set the webhook secret on the tracker")]
    MissingSignature(&'static str),
    #[error(
        "invalid signature in {0}: the webhook secret on the tracker differs from the instance secret"
    )]
    BadSignature(&'static str),
    #[error(
        "request body of {size} bytes exceeds the limit of {limit} bytes: send only the tracker's \
         webhook payload, or raise the function's PROXYSYNC_MAX_BODY_BYTES"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("malformed body: {0}")]
    Malformed(String),
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error(
        "stale signature timestamp: the request was signed {age_secs} s ago, more than the {max_secs} s allowed, \
         so it may be a replay. If the sender's clock is off, correct it, or raise the instance \
         option signature_max_age_secs"
    )]
    StaleTimestamp { age_secs: i64, max_secs: i64 },
    #[error(
        "OrganizationId {received:?} is not the Salesforce org of instance {instance:?}: point the \
         outbound message of that org at its own instance, or correct the instance option organization_id"
    )]
    WrongOrganization { received: String, instance: String },
}

impl Rejection {
    /// Builds the rejection of a body that does not parse as the route's webhook payload. The
    /// message adds the usual fix, because such a body is most often another tracker's payload
    /// or an edited one.
    pub fn not_payload(detail: impl std::fmt::Display) -> Rejection {
        Rejection::Malformed(format!(
            "{detail}. Send this route only its own tracker's webhook payload, unchanged"
        ))
    }

    /// Returns the HTTP status of the response to this rejection.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::UnknownRoute(_) | Rejection::UnknownInstance(_) => 404,
            Rejection::WrongRoute { .. } => 404,
            Rejection::MissingSignature(_) | Rejection::BadSignature(_) => 401,
            Rejection::StaleTimestamp { .. } => 401,
            Rejection::WrongOrganization { .. } => 403,
            Rejection::TooLarge { .. } => 413,
            Rejection::Malformed(_) | Rejection::MissingHeader(_) => 400,
        }
    }

    /// Returns the code and message sent to the caller. A webhook caller is not authenticated
    /// yet, so an instance on another route is reported as unknown and its tracker stays private.
    pub fn public_answer(&self) -> (&'static str, String) {
        match self {
            Rejection::WrongRoute {
                instance, route, ..
            } => (
                "unknown_instance",
                format!(
                    "unknown instance {instance:?} on the {route} route: check the webhook URL \
                     against `proxysync instance list`"
                ),
            ),
            other => (other.code(), other.to_string()),
        }
    }

    /// A short machine-readable reason, used in metrics and JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::UnknownRoute(_) => "unknown_route",
            Rejection::UnknownInstance(_) => "unknown_instance",
            Rejection::WrongRoute { .. } => "wrong_route",
            Rejection::MissingSignature(_) => "missing_signature",
            Rejection::BadSignature(_) => "bad_signature",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::Malformed(_) => "malformed",
            Rejection::MissingHeader(_) => "missing_header",
            Rejection::StaleTimestamp { .. } => "stale_timestamp",
            Rejection::WrongOrganization { .. } => "wrong_organization",
        }
    }
}

/// A failed call to a target tracker, after the retries that fit the budget.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TargetError {
    #[error("{tracker} answered {status} to {method} {path}: {message}")]
    Status {
        tracker: TrackerKind,
        status: u16,
        method: String,
        path: String,
        message: String,
    },
    #[error(
        "{tracker} answered 429 (rate limited): it asks to retry after {wait:?}, beyond the sync budget"
    )]
    RateLimited {
        tracker: TrackerKind,
        wait: Duration,
    },
    #[error("{tracker} unreachable at {method} {path}: {message}")]
    Unavailable {
        tracker: TrackerKind,
        method: String,
        path: String,
        message: String,
    },
    #[error("{tracker} sent an unexpected response to {method} {path}: {message}")]
    BadResponse {
        tracker: TrackerKind,
        method: String,
        path: String,
        message: String,
    },
    #[error("{0}")]
    Refused(String),
}

impl TargetError {
    /// The HTTP status the tracker answered, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            TargetError::Status { status, .. } => Some(*status),
            TargetError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Returns true when the credentials were refused, so a re-read of the secret may help.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
}

/// A failure of proxysync's own storage or configuration.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} on table {table} failed: {message}")]
    Dynamo {
        operation: &'static str,
        table: String,
        message: String,
    },
    #[error(
        "DynamoDB table {table} does not exist ({operation} failed with ResourceNotFoundException). \
         Check PROXYSYNC_TABLE (or --table). For a local stack, create the table with \
         `proxysync create-table`. On AWS, deploy the SAM stack and set PROXYSYNC_TABLE to the \
         table it created"
    )]
    MissingTable {
        operation: &'static str,
        table: String,
    },
    #[error("Secrets Manager could not read secret {secret_id}: {message}")]
    Secret { secret_id: String, message: String },
    #[error("secret {secret_id} is invalid: {message}")]
    InvalidSecret { secret_id: String, message: String },
    #[error("stored record {key} is invalid: {message}")]
    InvalidRecord { key: String, message: String },
}

/// An invalid setting, configuration file or command argument.
#[derive(thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

// `main` prints a returned error with `Debug`, so it shows the plain message.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortens an AWS SDK error to its message chain, without the debug dump of the
/// raw response that `DisplayErrorContext` appends in parentheses.
pub fn aws_error_message(error: &(dyn std::error::Error + 'static)) -> String {
    let full = aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string();
    let markers = [
        " (ServiceError(",
        " (DispatchFailure(",
        " (TimeoutError(",
        " (ResponseError(",
        " (ConstructionFailure(",
    ];
    let end = markers
        .iter()
        .filter_map(|marker| full.find(marker))
        .min()
        .unwrap_or(full.len());
    full[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(&'static str);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapped {}

    #[test]
    fn aws_message_drops_debug_dump() {
        let error =
            Wrapped("service error: ResourceNotFoundException: Requested resource not found");
        let message = aws_error_message(&error);
        assert!(
            message.starts_with("service error: ResourceNotFoundException"),
            "{message}"
        );
        assert!(!message.contains("ServiceError("), "{message}");
    }
}
