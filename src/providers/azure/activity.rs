//! What the azure providers of this process have done so far: requests by kind, 429s, time
//! spent waiting on throttles, Resource Graph pages, NSGs read, writes done and to do. One set
//! of counters for the whole process (every provider adds to it), read by the CLI to show
//! progress on a terminal and, with `-v`, a summary at the end. Counting only: nothing here
//! decides anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Kinds of request, as ARM's buckets and Resource Graph count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GET of an NSG or rule (an ARM read).
    Read,
    /// GET of a long-running operation's status.
    Poll,
    /// PUT of a rule.
    Write,
    /// DELETE of a rule.
    Delete,
    /// A Resource Graph query (one page).
    Graph,
}

const KINDS: usize = 5;

struct Counters {
    requests: [AtomicU64; KINDS],
    throttled: [AtomicU64; KINDS],
    /// Microseconds spent waiting on a throttle (a 429's wait or a spent quota).
    waited_us: AtomicU64,
    /// Microseconds of the throttle wait in progress ends at, since [`START`]; 0 when none.
    waiting_until_us: AtomicU64,
    nsgs_read: AtomicU64,
    nsgs_discovered: AtomicU64,
    writes_done: AtomicU64,
    writes_to_do: AtomicU64,
}

static COUNTERS: Counters = Counters {
    requests: [const { AtomicU64::new(0) }; KINDS],
    throttled: [const { AtomicU64::new(0) }; KINDS],
    waited_us: AtomicU64::new(0),
    waiting_until_us: AtomicU64::new(0),
    nsgs_read: AtomicU64::new(0),
    nsgs_discovered: AtomicU64::new(0),
    writes_done: AtomicU64::new(0),
    writes_to_do: AtomicU64::new(0),
};

static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn since_start() -> Duration {
    START.get_or_init(std::time::Instant::now).elapsed()
}

fn index(kind: Kind) -> usize {
    kind as usize
}

/// One request sent (before its answer).
pub fn request(kind: Kind) {
    COUNTERS.requests[index(kind)].fetch_add(1, Ordering::Relaxed);
}

/// One 429 received for a request of `kind`.
pub fn throttled(kind: Kind) {
    COUNTERS.throttled[index(kind)].fetch_add(1, Ordering::Relaxed);
}

/// A throttle wait of `wait` starts now.
pub fn waiting(wait: Duration) {
    COUNTERS
        .waited_us
        .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
    let until = (since_start() + wait).as_micros() as u64;
    COUNTERS
        .waiting_until_us
        .fetch_max(until, Ordering::Relaxed);
}

pub fn nsgs_read(n: u64) {
    COUNTERS.nsgs_read.fetch_add(n, Ordering::Relaxed);
}

pub fn nsgs_discovered(n: u64) {
    COUNTERS.nsgs_discovered.fetch_add(n, Ordering::Relaxed);
}

pub fn writes_to_do(n: u64) {
    COUNTERS.writes_to_do.fetch_add(n, Ordering::Relaxed);
}

pub fn write_done() {
    COUNTERS.writes_done.fetch_add(1, Ordering::Relaxed);
}

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// By [`Kind`]: reads, polls, writes, deletes, Resource Graph pages.
    pub requests: [u64; KINDS],
    pub throttled: [u64; KINDS],
    pub waited: Duration,
    /// What is left of the throttle wait in progress.
    pub waiting: Option<Duration>,
    pub nsgs_read: u64,
    pub nsgs_discovered: u64,
    pub writes_done: u64,
    pub writes_to_do: u64,
}

pub fn snapshot() -> Snapshot {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let until = Duration::from_micros(load(&COUNTERS.waiting_until_us));
    let now = since_start();
    Snapshot {
        requests: std::array::from_fn(|i| load(&COUNTERS.requests[i])),
        throttled: std::array::from_fn(|i| load(&COUNTERS.throttled[i])),
        waited: Duration::from_micros(load(&COUNTERS.waited_us)),
        waiting: (until > now).then(|| until - now),
        nsgs_read: load(&COUNTERS.nsgs_read),
        nsgs_discovered: load(&COUNTERS.nsgs_discovered),
        writes_done: load(&COUNTERS.writes_done),
        writes_to_do: load(&COUNTERS.writes_to_do),
    }
}

impl Snapshot {
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().sum()
    }

    pub fn total_throttled(&self) -> u64 {
        self.throttled.iter().sum()
    }

    /// One line of progress: `3 Resource Graph pages · 120 NSGs read · writes 40/200 ·
    /// throttled, waiting 1.2s`; empty before anything happened.
    pub fn progress_line(&self) -> String {
        let mut parts = Vec::new();
        let pages = self.requests[index(Kind::Graph)];
        if pages > 0 {
            parts.push(format!(
                "{pages} Resource Graph page{}, {} NSGs",
                plural(pages),
                self.nsgs_discovered
            ));
        }
        if self.nsgs_read > 0 {
            parts.push(format!("{} NSGs read", self.nsgs_read));
        }
        if self.writes_to_do > 0 {
            parts.push(format!("writes {}/{}", self.writes_done, self.writes_to_do));
        }
        if let Some(wait) = self.waiting {
            parts.push(format!("throttled, waiting {:.1}s", wait.as_secs_f64()));
        }
        parts.join(" · ")
    }

    /// The `-v` summary: `azure: 1,203 requests (1,000 reads, 3 Resource Graph pages, …),
    /// 12 throttled (429), 4.1s waiting`; `None` when no request was sent.
    pub fn summary(&self) -> Option<String> {
        let total = self.total_requests();
        if total == 0 {
            return None;
        }
        let names = [
            "read",
            "status poll",
            "write",
            "delete",
            "Resource Graph page",
        ];
        let by_kind: Vec<String> = names
            .iter()
            .zip(self.requests)
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}{}", plural(n)))
            .collect();
        let throttled: Vec<String> = names
            .iter()
            .zip(self.throttled)
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} on {name}s"))
            .collect();
        let mut line = format!(
            "azure: {total} request{} ({}), {} throttled (429)",
            plural(total),
            by_kind.join(", "),
            self.total_throttled()
        );
        if !throttled.is_empty() {
            line.push_str(&format!(" ({})", throttled.join(", ")));
        }
        if !self.waited.is_zero() {
            line.push_str(&format!(
                ", {:.1}s waiting on throttles",
                self.waited.as_secs_f64()
            ));
        }
        Some(line)
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_only_what_happened() {
        assert_eq!(Snapshot::default().progress_line(), "");
        assert_eq!(Snapshot::default().summary(), None);
        let s = Snapshot {
            requests: [1000, 20, 10, 0, 3],
            throttled: [2, 0, 0, 0, 1],
            waited: Duration::from_millis(1500),
            waiting: Some(Duration::from_millis(400)),
            nsgs_read: 100,
            nsgs_discovered: 2500,
            writes_done: 4,
            writes_to_do: 10,
        };
        assert_eq!(
            s.progress_line(),
            "3 Resource Graph pages, 2500 NSGs · 100 NSGs read · writes 4/10 · throttled, waiting 0.4s"
        );
        assert_eq!(
            s.summary().unwrap(),
            "azure: 1033 requests (1000 reads, 20 status polls, 10 writes, 3 Resource Graph pages), \
             3 throttled (429) (2 on reads, 1 on Resource Graph pages), 1.5s waiting on throttles"
        );
    }
}
