//! nftables as a conformance peer: the real `jit` binary run inside a network namespace made
//! for the test (`ip netns exec`), against the real kernel. Two providers, each with its own
//! table (`inet jit_a`, `inet jit_b`), are the two scopes. Foreign objects: the host's own
//! `inet filter` table, and a look-alike `ip jit_a` (jit's table name in another family).
//! Table `jit_a` starts as jit writes it, holding the element of a request the policy no
//! longer has; `jit_b` does not exist yet. An apply writes one transaction per table, so a
//! crash is modelled by applying, through the provider itself, only the first `k` changes of
//! the saved plan.
//!
//! Live state as compared is `nft -j list ruleset` without the elements' `expires`, which
//! the kernel counts down.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;

use jit::providers::nftables::{self, GrantInput, GuardedPort, Nft, NftablesProvider, Proto};

use crate::grant::{self, Phase};
use crate::peer::{apply_through, Peer, Stop};
use crate::support::{config_dir, TestCommand};

/// jit's tables, one per provider.
const TABLES: [&str; 2] = ["jit_a", "jit_b"];

pub struct NftablesPeer {
    ns: String,
    dir: TempDir,
}

/// Why this machine cannot host the peer (namespaces need root, `ip` and `nft`).
fn missing() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let works = |tool: &str, arg: &str| {
        Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    (!works("ip", "-V") || !works("nft", "--version"))
        .then(|| "`ip` or `nft` is not installed".into())
}

/// Whether this machine can host the peer; says why not (a failure where CI sets
/// `JIT_NETNS_TESTS=required`).
pub fn available() -> bool {
    let Some(why) = missing() else {
        return true;
    };
    if std::env::var_os("JIT_NETNS_TESTS").is_some_and(|v| v == "required") {
        panic!("the nftables peer: {why}, and JIT_NETNS_TESTS=required");
    }
    eprintln!("skipping the nftables peer: {why}");
    false
}

impl NftablesPeer {
    /// A fresh peer, or `None` (with the reason printed) where namespaces cannot be made; CI
    /// sets `JIT_NETNS_TESTS=required`, and there that is a failure.
    pub fn new() -> Option<NftablesPeer> {
        if !available() {
            return None;
        }
        static SEQUENCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ns = format!("jit-conf-{:x}-{n}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add {ns}");
        let policy = format!(
            "provider \"nftables\" \"a\" {{\n  table = \"jit_a\"\n}}\n\n\
             provider \"nftables\" \"b\" {{\n  table = \"jit_b\"\n}}\n\n{}{}",
            target("web-1", "nftables.a", &[("ssh", 22)]),
            target("web-2", "nftables.b", &[("ssh", 22), ("rdp", 3389)]),
        );
        let dir = config_dir(&[("policy.hcl", &policy)]);
        grant::write(dir.path(), "web-1", "ssh", Phase::During);
        let peer = NftablesPeer { ns, dir };
        peer.seed();
        Some(peer)
    }

    fn nft(&self) -> Nft {
        Nft::wrapped("ip", ["netns", "exec", self.ns.as_str(), "nft"])
    }

    fn nft_text(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "nft"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The host's own table, the look-alike, and `jit_a` as jit writes it with the element of
    /// request `INC-0-old`, which the policy does not hold.
    fn seed(&self) {
        for command in [
            "add table inet filter",
            "add chain inet filter input { type filter hook input priority 0; policy accept; }",
            "add rule inet filter input tcp dport 80 accept comment \"web\"",
            "add table ip jit_a",
            "add set ip jit_a grants4_0 { type ipv4_addr; flags timeout; }",
            "add element ip jit_a grants4_0 { 198.51.100.99 timeout 1h comment \"INC-0-old\" }",
        ] {
            self.nft_text(&[command]);
        }
        let ssh = GuardedPort {
            proto: Proto::Tcp,
            port: 22,
        };
        let old = nftables::TableSpec::new(
            "jit_a",
            nftables::spec::DEFAULT_PRIORITY,
            [ssh],
            [GrantInput {
                request: "INC-0-old".into(),
                source: "203.0.113.9/32".parse().unwrap(),
                port: ssh,
                remaining_secs: 3600,
            }],
        );
        nftables::apply(&self.nft(), &old).expect("seed jit_a");
    }

    /// The ruleset as listed, without the counting-down `expires`.
    fn ruleset(&self) -> Value {
        let mut doc: Value =
            serde_json::from_str(&self.nft_text(&["-j", "list", "ruleset"])).unwrap();
        strip_expires(&mut doc);
        doc
    }
}

impl Drop for NftablesPeer {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn strip_expires(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("expires");
            o.values_mut().for_each(strip_expires);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_expires),
        _ => {}
    }
}

/// A target of `provider` with these ports, from 198.51.100.0/24 (the grant's range).
fn target(name: &str, provider: &str, ports: &[(&str, u16)]) -> String {
    let ports: String = ports
        .iter()
        .map(|(port, number)| {
            format!(
                "  port \"{port}\" {{\n    number          = {number}\n    protocol        = \"tcp\"\n    \
                 allowed_sources = [\"198.51.100.0/24\"]\n    max_duration    = \"3h\"\n  }}\n"
            )
        })
        .collect();
    format!("target \"{name}\" {{\n  provider = \"{provider}\"\n{ports}}}\n\n")
}

/// Whether a listed object belongs to one of jit's tables (family `inet`).
fn is_jits(object: &Value) -> bool {
    object
        .as_object()
        .and_then(|o| o.values().next())
        .is_some_and(|body| {
            body["family"] == "inet"
                && TABLES.iter().any(|t| {
                    body["table"] == *t || body["name"] == *t && body.get("table").is_none()
                })
        })
}

impl Peer for NftablesPeer {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn jit(&self, args: &[&str]) -> TestCommand {
        TestCommand::in_netns(&self.ns, self.dir(), args).env("JIT_ACTOR", "tester")
    }

    fn foreign(&self) -> String {
        let mut doc = self.ruleset();
        let items = doc["nftables"].as_array_mut().unwrap();
        items.retain(|o| !is_jits(o));
        serde_json::to_string_pretty(&doc).unwrap()
    }

    fn live(&self) -> String {
        serde_json::to_string_pretty(&self.ruleset()).unwrap()
    }

    fn change_out_of_band(&self) {
        self.nft_text(&[
            "add element inet jit_a grants4_0 { 198.51.100.200 . tcp . 22 timeout 1h comment \"by hand\" }",
        ]);
    }

    fn stop_after(&self, plan: &Path, k: usize) -> Stop {
        let (plan, _) = jit::ops::planfile::read(plan).expect("the saved plan reads");
        let changes = &plan.resource_changes[..k];
        for table in TABLES {
            let address = format!("nftables.{}", &table[4..]);
            let mine: Vec<_> = changes
                .iter()
                .filter(|c| c.provider == address)
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            let provider = NftablesProvider::new(address, table).with_nft(self.nft());
            apply_through(&provider, &plan, &mine);
        }
        Stop::Done
    }

    fn clear_stop(&self) {}

    fn widen(&self, after: &mut Value) {
        after["source"] = json!("0.0.0.0/0");
    }

    fn lengthen(&self, after: &mut Value) {
        let end: jiff::Timestamp = after["expires"].as_str().unwrap().parse().unwrap();
        after["expires"] = json!((end + jiff::SignedDuration::from_hours(24)).to_string());
    }

    fn rename(&self, change: &mut Value, name: &str) {
        let table = change["scope"]
            .as_str()
            .unwrap()
            .trim_start_matches("nftables:")
            .to_string();
        crate::plan_doc::set_index(change, &format!("{table}/{name}"));
        for side in ["before", "after"] {
            if !change["change"][side].is_null() {
                change["change"][side]["name"] = json!(name);
            }
        }
    }

    fn resync(&self, doc: &mut Value) {
        crate::plan_doc::resync(doc)
    }
}
