//! Spans of time in words, the one spelling every message, plan and table uses (`45s`, `12m`,
//! `2h 5m`, `3d 4h`): plan reasons, findings, status, validation messages.

use jiff::SignedDuration;

/// A span of time for humans, coarsest two units: `45s`, `12m`, `2h 5m`, `3d 4h`.
pub fn span(duration: SignedDuration) -> String {
    let secs = duration.as_secs().unsigned_abs();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let pair = |a: u64, ua: &str, b: u64, ub: &str| {
        if b == 0 {
            format!("{a}{ua}")
        } else {
            format!("{a}{ua} {b}{ub}")
        }
    };
    if d > 0 {
        pair(d, "d", h, "h")
    } else if h > 0 {
        pair(h, "h", m, "m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_use_two_units_at_most() {
        assert_eq!(span(SignedDuration::from_secs(45)), "45s");
        assert_eq!(span(SignedDuration::from_secs(12 * 60 + 5)), "12m");
        assert_eq!(span(SignedDuration::from_secs(2 * 3600 + 300)), "2h 5m");
        assert_eq!(span(SignedDuration::from_secs(3600)), "1h");
        assert_eq!(
            span(SignedDuration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d 4h"
        );
        assert_eq!(span(SignedDuration::from_mins(90)), "1h 30m");
        assert_eq!(span(SignedDuration::from_hours(24)), "1d");
    }
}
