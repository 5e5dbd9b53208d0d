//! `jit show PLANFILE`: a saved plan, as text or as the JSON document it is.

use std::path::PathBuf;

use super::{Global, Status};
use crate::ops::planfile;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved by `jit plan --out FILE`
    #[arg(value_name = "PLANFILE")]
    pub planfile: PathBuf,
    /// Print the plan as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let (plan, _) = planfile::read(&args.planfile)?;
    super::plan::print_plan(global, &plan, args.json)?;
    Ok(Status::Success)
}
