//! What the Azure benches share: knobs from the environment, the bucket bound, and one timed
//! apply of a plan through a provider against the emulator.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::emulator::{Emulator, Stats};
use jit::plan::Plan;
use jit::providers::{Batch, Outcome, Provider};

/// An environment variable as a number, else `default`.
pub fn knob(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seconds the buckets impose at least: what exceeds each bucket's burst, at its refill rate.
pub fn bucket_bound(requests: u64, burst: f64, rate: f64, scale: f64) -> f64 {
    (requests as f64 - burst).max(0.0) / rate / scale
}

/// One apply of `plan` and what it took.
pub struct Applied {
    pub wall: Duration,
    pub outcomes: Vec<Outcome>,
    pub stats: Stats,
}

impl Applied {
    /// How many outcomes `f` accepts.
    pub fn count(&self, f: fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(o)).count()
    }
}

/// Waits `refill` (the read bucket filling again, as between a plan and an apply in a
/// pipeline), then applies `plan` through `provider` as `jit apply` does (from the plan's
/// read, made at `read_at`), counting the emulator's requests from the first write.
pub fn timed_apply(
    provider: &dyn Provider,
    plan: &Plan,
    read_at: Option<Timestamp>,
    refill: Duration,
    emu: &Emulator,
) -> Applied {
    std::thread::sleep(refill);
    emu.reset_stats();
    let start = Instant::now();
    let batch = Batch {
        changes: &plan.resource_changes,
        fingerprints: &plan.fingerprints,
        now: Timestamp::now(),
        read_at,
    };
    let outcomes = provider.apply(batch, &|_| {}).expect("apply");
    let wall = start.elapsed();
    Applied {
        wall,
        outcomes,
        stats: emu.stats(),
    }
}
