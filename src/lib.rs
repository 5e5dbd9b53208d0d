//! `jit` keeps management ports closed and opens them just in time.
//!
//! The whole pipeline in one sentence:
//! `lang::load → Policy; compile(policy, now) → Desired; provider.read() → Live;
//! plan::diff(desired, live, now) → Plan; render text | json; provider.apply(plan)`.
//!
//! `lang`, `compile`, `plan` and `render` are pure (no I/O, the clock passed in);
//! `providers` and `ops` do the I/O; `cli` is a thin layer over `ops`.
//!
//! The pure part of that sentence, end to end, with live state made in memory:
//!
//! ```
//! use jit::compile::compile;
//! use jit::lang::{load, SourceFile};
//! use jit::live::{nsg_key, Live, LiveNsg};
//! use jit::plan::{diff, Action};
//!
//! let nsg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web";
//! let text = format!(r#"
//! provider "snapshot" "demo" {{
//!   path = "nsgs.json"
//! }}
//!
//! target "web-1" {{
//!   provider = "snapshot.demo"
//!   nsg_id   = "{nsg}"
//!   port "ssh" {{
//!     number          = 22
//!     allowed_sources = ["198.51.100.0/24"]
//!     max_duration    = "1h"
//!   }}
//! }}
//! "#);
//! let policy = load(&[SourceFile { path: "policy.hcl".into(), text }]).expect("a valid policy");
//! let now: jiff::Timestamp = "2026-11-25T15:00:00Z".parse().unwrap();
//!
//! let mut live = Live::default();
//! let empty = LiveNsg { id: nsg.into(), name: "web".into(), fingerprint: "e0".into(), rules: vec![] };
//! live.nsgs.insert(nsg_key(nsg), empty);
//!
//! let plan = diff(&policy, &compile(&policy, now), &live, now);
//! assert_eq!(plan.counts(), (1, 0, 0)); // the lock-down rule for ssh
//! let change = &plan.resource_changes[0];
//! assert_eq!((change.action(), change.name.as_str()), (Action::Create, "jit-deny-web-1-ssh"));
//! ```

pub mod approval;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod digest;
pub mod duration;
pub mod lang;
pub mod live;
pub mod model;
pub mod nsg;
pub mod ops;
pub mod plan;
pub mod providers;
pub mod render;
