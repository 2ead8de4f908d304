//! Logical clocks for write timestamps, and the timestamp formats of each tracker.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// GitHub REST timestamps, such as "2026-12-04T16:20:00Z".
const GITHUB_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Jira Cloud REST timestamps, such as "2026-12-04T16:20:00.000+0000".
const JIRA_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");

/// A clock that follows wall time but advances by at least `step` on every tick, so that
/// consecutive writes get strictly increasing timestamps even within one second.
#[derive(Debug)]
pub(crate) struct LogicalClock {
    step: Duration,
    last: Option<OffsetDateTime>,
}

impl LogicalClock {
    /// Creates a clock for GitHub, whose timestamps have whole seconds.
    pub(crate) fn github() -> Self {
        LogicalClock {
            step: Duration::SECOND,
            last: None,
        }
    }

    /// Creates a clock for Jira, whose timestamps have milliseconds.
    pub(crate) fn jira() -> Self {
        LogicalClock {
            step: Duration::MILLISECOND,
            last: None,
        }
    }

    /// Returns the timestamp of a new write: the current UTC time truncated to `step`, or the
    /// previous tick plus `step` when wall time has not moved on far enough.
    pub(crate) fn tick(&mut self) -> OffsetDateTime {
        let now = truncate(OffsetDateTime::now_utc(), self.step);
        let next = match self.last {
            Some(last) if now < last + self.step => last + self.step,
            _ => now,
        };
        self.last = Some(next);
        next
    }
}

/// Drops the part of `time` below `step`, which is one second or one millisecond.
fn truncate(time: OffsetDateTime, step: Duration) -> OffsetDateTime {
    let nanos = time.nanosecond();
    let step_nanos = step.whole_nanoseconds() as u32;
    let truncated_nanos = if step_nanos >= 1_000_000_000 {
        0
    } else {
        nanos - nanos % step_nanos
    };
    time.replace_nanosecond(truncated_nanos)
        .expect("a truncated nanosecond value stays in range")
}

/// Formats `time` as GitHub does, in UTC with whole seconds.
pub(crate) fn github_timestamp(time: OffsetDateTime) -> String {
    time.to_offset(time::UtcOffset::UTC)
        .format(GITHUB_FORMAT)
        .expect("a UTC time always formats")
}

/// Formats `time` as Jira Cloud does, in UTC with milliseconds and a "+0000" offset.
pub(crate) fn jira_timestamp(time: OffsetDateTime) -> String {
    time.to_offset(time::UtcOffset::UTC)
        .format(JIRA_FORMAT)
        .expect("a UTC time always formats")
}

/// Milliseconds since the Unix epoch, the unit of the Jira webhook `timestamp` field.
pub(crate) fn unix_millis(time: OffsetDateTime) -> i64 {
    (time.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_ticks_increase_by_whole_seconds() {
        let mut clock = LogicalClock::github();
        let first = clock.tick();
        let second = clock.tick();
        assert_eq!(first.nanosecond(), 0);
        assert!(second >= first + Duration::SECOND);
        assert!(github_timestamp(second) > github_timestamp(first));
    }

    #[test]
    fn jira_ticks_increase_by_milliseconds() {
        let mut clock = LogicalClock::jira();
        let first = clock.tick();
        let second = clock.tick();
        assert_eq!(first.nanosecond() % 1_000_000, 0);
        assert!(second >= first + Duration::MILLISECOND);
        assert!(jira_timestamp(second) > jira_timestamp(first));
    }

    #[test]
    fn timestamp_formats_match_trackers() {
        let time = time::macros::datetime!(2026-12-04 16:20:00.123 UTC);
        assert_eq!(github_timestamp(time), "2026-12-04T16:20:00Z");
        assert_eq!(jira_timestamp(time), "2026-12-04T16:20:00.123+0000");
        assert_eq!(unix_millis(time), 1_796_401_200_123);
    }
}
