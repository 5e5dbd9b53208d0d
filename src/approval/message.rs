//! The canonical approval message: the exact bytes an approver signs for one request
//! (docs/approvals.md has the format byte for byte). Pure.
//!
//! It holds what decides the access a request gives — id, target, port numbers and protocols,
//! normalised source, start (UTC), duration (seconds), requester and justification — and
//! nothing about how the request is written, so reformatting or moving it keeps every
//! signature, and any change to those fields voids them all.

use std::fmt::Write as _;

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};

use crate::model::Protocol;

/// The first line; a new format gets a new version and voids older signatures.
pub const VERSION: &str = "jit-approval-v1";

/// The SSHSIG namespace approvals are signed in.
pub const NAMESPACE: &str = "jit-approval";

/// What an approver consents to: one request, resolved against its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub id: String,
    pub target: String,
    /// Port numbers and protocols, in any order (the message sorts them).
    pub ports: Vec<(u16, Protocol)>,
    /// Normalised (host bits cleared).
    pub source: IpNet,
    pub start: Timestamp,
    pub duration: SignedDuration,
    pub requester: String,
    pub justification: String,
}

impl Subject {
    /// The message, as UTF-8 text: one `key: value` line per field after the version line,
    /// each ending in `\n`, values escaped so that none holds a line break.
    pub fn message(&self) -> String {
        let mut ports = self.ports.clone();
        ports.sort();
        ports.dedup();
        let ports = ports
            .iter()
            .map(|(n, p)| format!("{n}/{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut out = String::new();
        let _ = writeln!(out, "{VERSION}");
        for (key, value) in [
            ("id", self.id.as_str()),
            ("target", self.target.as_str()),
            ("ports", ports.as_str()),
            ("source", &self.source.trunc().to_string()),
            ("start", &utc(self.start)),
            ("duration", &seconds(self.duration)),
            ("requester", self.requester.as_str()),
            ("justification", self.justification.as_str()),
        ] {
            let _ = writeln!(out, "{key}: {}", escape(value));
        }
        out
    }
}

/// RFC 3339 in UTC, `Z`, fractional seconds only when there are any.
fn utc(t: Timestamp) -> String {
    t.to_string()
}

/// Whole seconds; a fraction, if any, as up to nine digits after a `.`.
fn seconds(d: SignedDuration) -> String {
    let nanos = d.subsec_nanos().unsigned_abs();
    if nanos == 0 {
        d.as_secs().to_string()
    } else {
        let fraction = format!("{nanos:09}");
        format!("{}.{}", d.as_secs(), fraction.trim_end_matches('0'))
    }
}

/// `\` → `\\`, line feed → `\n`, carriage return → `\r`, tab → `\t`, any other control
/// character → `\u{XXXX}` (hex, at least four digits); everything else as it is.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:04X}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn subject() -> Subject {
        Subject {
            id: "INC-4211-alice".into(),
            target: "web-1".into(),
            ports: vec![(3389, Protocol::Tcp), (22, Protocol::Tcp)],
            source: "198.51.100.7/32".parse().unwrap(),
            start: "2026-11-25T15:00:00+01:00".parse().unwrap(),
            duration: SignedDuration::from_hours(2),
            requester: "alice@example.com".into(),
            justification: "INC-4211 investigate failed deploy".into(),
        }
    }

    #[test]
    fn the_documented_example() {
        assert_eq!(
            subject().message(),
            "jit-approval-v1\n\
             id: INC-4211-alice\n\
             target: web-1\n\
             ports: 22/tcp,3389/tcp\n\
             source: 198.51.100.7/32\n\
             start: 2026-11-25T14:00:00Z\n\
             duration: 7200\n\
             requester: alice@example.com\n\
             justification: INC-4211 investigate failed deploy\n"
        );
    }

    #[test]
    fn every_field_changes_the_message() {
        let base = subject().message();
        type Change = Box<dyn Fn(&mut Subject)>;
        let changes: Vec<Change> = vec![
            Box::new(|s| s.id.push('x')),
            Box::new(|s| s.target.push('x')),
            Box::new(|s| s.ports[0].0 = 3390),
            Box::new(|s| s.ports[0].1 = Protocol::Any),
            Box::new(|s| s.ports.push((5985, Protocol::Tcp))),
            Box::new(|s| s.source = "198.51.100.0/24".parse().unwrap()),
            Box::new(|s| s.start = "2026-11-25T14:00:01Z".parse().unwrap()),
            Box::new(|s| s.duration = SignedDuration::from_secs(7201)),
            Box::new(|s| s.requester = "mallory@example.com".into()),
            Box::new(|s| s.justification.push('!')),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut s = subject();
            change(&mut s);
            assert_ne!(s.message(), base, "change {i} kept the message");
        }
    }

    #[test]
    fn port_order_and_host_bits_do_not_matter() {
        let mut s = subject();
        s.ports.reverse();
        assert_eq!(s.message(), subject().message());
    }

    #[test]
    fn no_value_can_forge_a_line() {
        let mut a = subject();
        a.requester = "alice@example.com\njustification: x".into();
        a.justification = "y".into();
        let mut b = subject();
        b.justification = "x\njustification: y".into();
        assert_ne!(a.message(), b.message());
        assert_eq!(a.message().lines().count(), 9);
        assert!(b
            .message()
            .contains("justification: x\\njustification: y\n"));
        let mut c = subject();
        c.justification = "a\\nb\u{1b}".into();
        assert!(c.message().ends_with("justification: a\\\\nb\\u{001B}\n"));
    }

    #[test]
    fn fractional_durations_are_exact() {
        assert_eq!(seconds(SignedDuration::new(90, 500_000_000)), "90.5");
    }
}
