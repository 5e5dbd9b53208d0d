//! nftables at the kernel, inside two network namespaces made for the run (needs root, `ip`
//! and `nft`):
//!
//! - **enforcement lag**: a grant of 1 s is applied, then connections are opened from its
//!   source without pause; the lag is the time from the grant's end (the moment of apply plus
//!   its timeout) to the start of the first connection the kernel no longer lets in. Repeated
//!   over many grants; nothing of jit runs while it is measured.
//! - **apply time for 10,000 grants in one transaction**: 10,000 IPv6 sources on port 22,
//!   applied to a missing table, then re-planned (read + plan, nothing to write), then all
//!   replaced by 10,000 others (10,000 removals and 10,000 adds in one transaction).
//!
//! - the same two **through `jit apply`**, the real binary run inside "server" on a config dir
//!   of policy and request files: the lag from each request's end to the first refused connect
//!   (negative when the kernel closes it early: jit rounds the timeout down and keeps half a
//!   second for the commit), and one apply of 10,000 requests.
//!
//!     cargo bench --bench nftables
//!
//! The lag counts from the moment jit starts an apply, as a caller computing the remaining time
//! from the clock would; the kernel starts the timeout when the transaction commits, so the
//! apply's own time (printed beside it) is part of the lag.

#[path = "../tests/nftables/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "../tests/nftables/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use fixture::{request, POLICY};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use jit::providers::nftables::{self, reconcile, GrantInput, GuardedPort, Proto, TableSpec};

const ROUNDS: usize = 25;
const GRANTS: usize = 10_000;
const SSH: GuardedPort = GuardedPort {
    proto: Proto::Tcp,
    port: 22,
};

fn spec(grants: impl IntoIterator<Item = (String, String, u64)>) -> TableSpec {
    TableSpec::new(
        "jit",
        nftables::spec::DEFAULT_PRIORITY,
        [SSH],
        grants
            .into_iter()
            .map(|(request, source, secs)| GrantInput {
                request,
                source: source.parse().unwrap(),
                port: SSH,
                remaining_secs: secs,
            }),
    )
}

/// Connects from the granted client without pause until one is refused: when that attempt
/// started. The grant must have let at least one in.
fn first_refused(lab: &lab::Lab, round: usize) -> Instant {
    let mut opened = 0;
    loop {
        let attempt = Instant::now();
        if lab
            .connect_within(lab::CLIENT4, Duration::from_millis(50))
            .is_none()
        {
            assert!(
                opened > 0,
                "round {round}: the grant never let a connection in"
            );
            return attempt;
        }
        opened += 1;
    }
}

fn ms(d: f64) -> String {
    format!("{:.1} ms", d * 1000.0)
}

fn main() {
    let Some(lab) = lab::Lab::new("bench") else {
        return;
    };
    let nft = lab.nft();
    nftables::apply(&nft, &spec([])).expect("lock down");

    // Enforcement lag.
    let mut lags = Vec::new();
    let mut applies = Vec::new();
    for round in 0..ROUNDS {
        let start = Instant::now();
        let end = start + Duration::from_secs(1);
        nftables::apply(
            &nft,
            &spec([(format!("LAG-{round}"), format!("{}/32", lab::CLIENT4), 1)]),
        )
        .unwrap();
        applies.push(start.elapsed().as_secs_f64());
        let refused_at = first_refused(&lab, round);
        let lag = refused_at.duration_since(start).as_secs_f64()
            - end.duration_since(start).as_secs_f64();
        lags.push(lag);
    }
    lags.sort_by(f64::total_cmp);
    applies.sort_by(f64::total_cmp);
    let mean = lags.iter().sum::<f64>() / lags.len() as f64;
    println!(
        "enforcement lag over {ROUNDS} grants of 1 s: min {}, median {}, mean {}, max {}",
        ms(lags[0]),
        ms(lags[lags.len() / 2]),
        ms(mean),
        ms(lags[lags.len() - 1])
    );
    println!(
        "  of which the apply itself (the kernel counts the timeout from its commit): median {}, max {}",
        ms(applies[applies.len() / 2]),
        ms(applies[applies.len() - 1])
    );

    // 10,000 grants in one transaction.
    nftables::apply(&nft, &spec([])).unwrap();
    lab.nft_text(&["delete", "table", "inet", "jit"]);
    let grants = |offset: usize| {
        (0..GRANTS).map(move |i| {
            let n = i + offset;
            (
                format!("REQ-{n}"),
                format!("2001:db8:{:x}:{:x}::/64", n / 0x1000, n % 0x1000),
                3600,
            )
        })
    };
    let first = spec(grants(0));
    let t = Instant::now();
    let applied = nftables::apply(&nft, &first).unwrap();
    let create = t.elapsed().as_secs_f64();
    assert_eq!(applied.plan.changes.len(), GRANTS);

    let t = Instant::now();
    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    let plan = reconcile::plan(&first, Some(&live));
    let replan = t.elapsed().as_secs_f64();
    assert!(plan.is_empty(), "{:?}", plan.rebuild);
    assert_eq!(live.elements.len(), GRANTS);

    let second = spec(grants(GRANTS));
    let t = Instant::now();
    let applied = nftables::apply(&nft, &second).unwrap();
    let replace = t.elapsed().as_secs_f64();
    assert_eq!(applied.plan.changes.len(), 2 * GRANTS);
    assert_eq!(
        nftables::read(&nft, "jit").unwrap().unwrap().elements.len(),
        GRANTS
    );

    println!(
        "{GRANTS} grants into a missing table, one transaction (read, plan, nft -c, nft -f): {}",
        ms(create)
    );
    println!(
        "read back {GRANTS} elements and plan (nothing to do): {}",
        ms(replan)
    );
    println!(
        "replace {GRANTS} grants by {GRANTS} others, one transaction: {}",
        ms(replace)
    );
    lab.nft_text(&["delete", "table", "inet", "jit"]);
    through_jit(&lab);
}

/// `jit -C dir apply --auto-approve` inside "server"; the wall time it took.
fn jit_apply(lab: &lab::Lab, dir: &Path) -> f64 {
    let t = Instant::now();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.server,
            env!("CARGO_BIN_EXE_jit"),
            "-C",
        ])
        .arg(dir)
        .args(["apply", "--auto-approve"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run jit");
    assert!(
        out.status.success(),
        "jit apply: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn through_jit(lab: &lab::Lab) {
    const JIT_ROUNDS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("policy.hcl"), POLICY).unwrap();
    std::fs::create_dir_all(d.join("requests")).unwrap();
    let mut lags = Vec::new();
    let mut applies = Vec::new();
    for round in 0..JIT_ROUNDS {
        // A five-minute request whose end is three seconds away.
        let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
        let end = now + SignedDuration::from_secs(3);
        let start = end - SignedDuration::from_mins(5);
        let text = request(
            &format!("LAG-{round}"),
            &format!("{}/32", lab::CLIENT4),
            start,
            "5m",
        );
        std::fs::write(d.join("requests/lag.hcl"), text).unwrap();
        applies.push(jit_apply(lab, d));
        // The request's end on the monotonic clock.
        let end_at =
            Instant::now() + Duration::try_from(end - Timestamp::now()).unwrap_or_default();
        let refused_at = first_refused(lab, round);
        lags.push(if refused_at >= end_at {
            refused_at.duration_since(end_at).as_secs_f64()
        } else {
            -end_at.duration_since(refused_at).as_secs_f64()
        });
        // The kernel closed it; the next round's apply removes nothing.
        std::thread::sleep(Duration::from_millis(100));
    }
    lags.sort_by(f64::total_cmp);
    applies.sort_by(f64::total_cmp);
    println!(
        "through `jit apply`: lag from each of {JIT_ROUNDS} requests' end to the first refused connect: min {}, median {}, max {} (negative: closed early)",
        ms(lags[0]),
        ms(lags[lags.len() / 2]),
        ms(lags[lags.len() - 1])
    );
    println!(
        "  `jit apply` (load, read, plan, nft -c, nft -f): median {}, max {}",
        ms(applies[applies.len() / 2]),
        ms(applies[applies.len() - 1])
    );

    // 10,000 requests in one apply.
    let start = Timestamp::now() - SignedDuration::from_mins(1);
    let mut text = String::new();
    for n in 0..GRANTS {
        let source = format!("2001:db8:{:x}:{:x}::/64", n / 0x1000, n % 0x1000);
        text.push_str(&request(&format!("REQ-{n}"), &source, start, "1h"));
    }
    std::fs::write(d.join("requests/lag.hcl"), text).unwrap();
    let create = jit_apply(lab, d);
    let listed = lab.nft_text(&["-j", "list", "set", "inet", "jit", "grants6_0"]);
    assert_eq!(
        listed.matches("\"comment\"").count(),
        GRANTS,
        "every grant is in the kernel"
    );
    let again = jit_apply(lab, d);
    println!(
        "through `jit apply`: {GRANTS} requests into its table, one transaction: {}; the next apply (nothing to do): {}",
        ms(create),
        ms(again)
    );
}
