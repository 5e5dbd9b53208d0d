//! `jit` keeps management ports closed and opens them just in time.
//!
//! The whole pipeline in one sentence:
//! `lang::load → Policy; compile(policy, now) → Desired; provider.read() → Live;
//! plan::diff(desired, live, now) → Plan; render text | json; provider.apply(plan)`.
//!
//! `lang`, `compile`, `plan` and `render` are pure (no I/O, the clock passed in);
//! `providers` and `ops` do the I/O; `cli` is a thin layer over `ops`.

pub mod cli;
pub mod compile;
pub mod diag;
pub mod digest;
pub mod lang;
pub mod live;
pub mod model;
pub mod nsg;
pub mod ops;
pub mod plan;
pub mod providers;
pub mod render;
