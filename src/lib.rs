//! `jit` keeps management ports closed and opens them just in time.
//!
//! The whole pipeline in one sentence:
//! `lang::load → Policy; platform::compile(policy, now) → Desired; provider.read(scopes) →
//! Live; platform::diff(policy, desired, live, now) → Plan; render text | json;
//! provider.apply(batch) → one outcome per change`.
//!
//! - `lang` (HCL → `model::Policy`), `platform` (what each firewall shape wants, the diff and
//!   its findings: `platform::nsg` for security rules), `plan` (the plan as data, its
//!   Terraform JSON form, saved-plan checks), `resource` (typed resources and their schemas)
//!   and `render` are pure: no I/O, the clock passed in.
//! - `providers` read and write live state behind one trait (`providers::Provider`); `ops`
//!   runs the commands (config, plan, apply, status, audit); `cli` is a thin layer over `ops`.
//!
//! The pure part of that sentence, end to end, with live state made in memory:
//!
//! ```
//! use jit::lang::{load, SourceFile};
//! use jit::live::Live;
//! use jit::plan::{compile, diff, Action};
//! use jit::platform::nsg;
//!
//! let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web";
//! let text = format!(r#"
//! provider "snapshot" "demo" {{
//!   path = "nsgs.json"
//! }}
//!
//! target "web-1" {{
//!   provider = "snapshot.demo"
//!   nsg_id   = "{id}"
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
//! live.insert(nsg::scope(id.into(), "web".into(), "e0".into(), vec![]));
//!
//! let plan = diff(&policy, &compile(&policy, now), &live, now);
//! assert_eq!(plan.counts(), (1, 0, 0)); // the lock-down rule for ssh
//! let change = &plan.resource_changes[0];
//! assert_eq!((change.action(), change.name.as_str()), (Action::Create, "jit-deny-web-1-ssh"));
//! assert_eq!(change.change.after.as_ref().unwrap().type_name(), "azurerm_network_security_rule");
//! ```

pub mod approval;
pub mod atomic;
pub mod cli;
pub mod diag;
pub mod digest;
pub mod duration;
pub mod lang;
pub mod live;
pub mod model;
pub mod ops;
pub mod plan;
pub mod platform;
pub mod providers;
pub mod render;
pub mod resource;
