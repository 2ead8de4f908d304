//! Timestamp parsing for the formats trackers send.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 time (`2026-12-04T16:20:00Z`) or Jira's form without the
/// offset colon (`2026-12-04T16:20:00.000+0000`) into milliseconds since the epoch.
pub fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(value, &Rfc3339).ok().or_else(|| {
        let jira = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
        );
        OffsetDateTime::parse(value, &jira).ok()
    })?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Returns the current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_timestamp() {
        assert_eq!(
            parse_rfc3339_ms("2019-05-15T15:20:33Z"),
            Some(1_557_933_633_000)
        );
    }

    #[test]
    fn jira_timestamp_without_colon() {
        assert_eq!(
            parse_rfc3339_ms("2019-05-15T15:20:33.120+0000"),
            Some(1_557_933_633_120)
        );
    }

    #[test]
    fn garbage_rejected() {
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
