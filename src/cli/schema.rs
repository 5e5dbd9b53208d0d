//! `jit schema`: print the JSON Schema of a config file kind (`lang::schema`).

use std::io::Write as _;

use super::{Global, Status};
use crate::lang::schema::{config_schema, schema, to_document, FileKind};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file kind; without it, a schema that either kind matches
    #[arg(value_enum)]
    pub kind: Option<Kind>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// settings, provider, target and accept blocks
    Policy,
    /// request blocks only
    Request,
}

pub fn run(_global: &Global, args: Args) -> anyhow::Result<Status> {
    let schema = match args.kind {
        Some(Kind::Policy) => schema(FileKind::Policy),
        Some(Kind::Request) => schema(FileKind::Request),
        None => config_schema(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(to_document(&schema).as_bytes())?;
    stdout.flush()?;
    Ok(Status::Success)
}
