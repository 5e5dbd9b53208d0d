//! `jit status`.

use super::{Global, Status};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let _ = (global, args);
    anyhow::bail!("`jit status` is not built yet")
}
