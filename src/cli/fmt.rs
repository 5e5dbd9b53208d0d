//! `jit fmt`.

use super::{Global, Status};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let _ = (global, args);
    anyhow::bail!("`jit fmt` is not built yet")
}
