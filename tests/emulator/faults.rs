//! Fault injection: which requests (method + path regex) get which fault, and when.

use std::time::Duration;

use regex::Regex;

use super::clock::Rng;

/// When a matching request triggers the fault.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// Only the n-th matching request (1-based).
    Nth(u64),
    /// The first n matching requests.
    FirstN(u64),
    /// Every matching request.
    Always,
    /// Each matching request with probability `p`, from a PRNG seeded with `seed`.
    Probability { p: f64, seed: u64 },
}

/// What happens to a triggered request.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// An ARM error answer (`500` → `InternalServerError`, `503` → `ServiceUnavailable`, …).
    Status(u16),
    /// The connection is dropped (RST) without any response.
    ConnectionReset,
    /// Extra real delay before the request is handled.
    Latency(Duration),
    /// The request is accepted, but its long-running operation ends `Failed`.
    LroFailed,
    /// `429 RetryableError` / `RetryableErrorDueToAnotherOperation`.
    AnotherOperation,
    /// Another client writes this security rule (ARM raw shape, `name` required) into the NSG
    /// the request path names, right after the request is answered: the request sees the NSG as
    /// it was, the next one sees the rule added (or replaced, by name) with fresh etags on the
    /// rule and the NSG. The concurrent change between a client's read and its write.
    ConcurrentRule(serde_json::Value),
}

/// One fault: `method` (`None` = any) and a regex over the request path (no query).
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: Option<String>,
    pub path: String,
    pub trigger: Trigger,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault for requests of `method` whose path matches the regex `path`.
    pub fn new(method: &str, path: &str, trigger: Trigger, kind: FaultKind) -> Self {
        Fault {
            method: Some(method.to_ascii_uppercase()),
            path: path.to_string(),
            trigger,
            kind,
        }
    }
}

/// The compiled faults with their match counters.
#[derive(Debug, Default)]
pub struct FaultSet {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    fault: Fault,
    regex: Regex,
    seen: u64,
    rng: Rng,
}

impl FaultSet {
    /// Compiles `faults`; a bad regex is an error naming it.
    pub fn new(faults: Vec<Fault>) -> Result<Self, String> {
        let mut entries = Vec::new();
        for fault in faults {
            let regex = Regex::new(&fault.path)
                .map_err(|e| format!("invalid fault path regex `{}`: {e}", fault.path))?;
            let seed = match fault.trigger {
                Trigger::Probability { seed, .. } => seed,
                _ => 0,
            };
            entries.push(Entry {
                fault,
                regex,
                seen: 0,
                rng: Rng::new(seed),
            });
        }
        Ok(FaultSet { entries })
    }

    /// The faults this request triggers, in the order they were configured.
    pub fn triggered(&mut self, method: &str, path: &str) -> Vec<FaultKind> {
        let mut out = Vec::new();
        for entry in &mut self.entries {
            let method_ok = entry
                .fault
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !method_ok || !entry.regex.is_match(path) {
                continue;
            }
            entry.seen += 1;
            let fire = match entry.fault.trigger {
                Trigger::Nth(n) => entry.seen == n,
                Trigger::FirstN(n) => entry.seen <= n,
                Trigger::Always => true,
                Trigger::Probability { p, .. } => entry.rng.next_f64() < p,
            };
            if fire {
                out.push(entry.fault.kind.clone());
            }
        }
        out
    }
}
