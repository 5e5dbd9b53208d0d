//! Pure: the human wording of action reasons and findings (`request INC-4211 active until
//! 16:00Z`, `request expired 12m ago`). Display only; apply never reads it.

use jiff::Timestamp;

use crate::duration::span;

/// `16:00Z` when `at` falls on the same UTC day as `now`, else `2026-11-26 16:00Z`; seconds
/// only when they are not zero.
pub fn clock(at: Timestamp, now: Timestamp) -> String {
    let at_utc = jiff::tz::TimeZone::UTC.to_datetime(at);
    let now_utc = jiff::tz::TimeZone::UTC.to_datetime(now);
    let time = if at_utc.second() == 0 && at_utc.subsec_nanosecond() == 0 {
        at_utc.strftime("%H:%MZ").to_string()
    } else {
        at_utc.strftime("%H:%M:%SZ").to_string()
    };
    if at_utc.date() == now_utc.date() {
        time
    } else {
        format!("{} {time}", at_utc.strftime("%Y-%m-%d"))
    }
}

pub fn request_active(request: &str, until: Timestamp, now: Timestamp) -> String {
    format!("request {request} active until {}", clock(until, now))
}

pub fn lock_down(port: &str, target: &str) -> String {
    format!("lock down port {port} of {target}")
}

pub const DRIFTED: &str = "changed outside jit";

pub const NOT_IN_POLICY: &str = "not in policy";

pub fn request_expired(expired_at: Timestamp, now: Timestamp) -> String {
    format!(
        "request expired {} ago",
        span(now.duration_since(expired_at))
    )
}

pub fn request_ended(request: &str, ended_at: Timestamp, now: Timestamp) -> String {
    format!(
        "request {request} ended {} ago",
        span(now.duration_since(ended_at))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clock_is_short_on_the_same_day() {
        let now = ts("2026-11-25T14:37:00Z");
        assert_eq!(clock(ts("2026-11-25T16:00:00Z"), now), "16:00Z");
        assert_eq!(clock(ts("2026-11-25T16:00:30Z"), now), "16:00:30Z");
        assert_eq!(clock(ts("2026-11-26T09:00:00Z"), now), "2026-11-26 09:00Z");
    }

    #[test]
    fn expiry_reads_in_words() {
        let now = ts("2026-11-25T14:12:00Z");
        assert_eq!(
            request_expired(ts("2026-11-25T14:00:00Z"), now),
            "request expired 12m ago"
        );
    }
}
