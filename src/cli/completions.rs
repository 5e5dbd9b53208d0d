//! `jit completions SHELL` and `jit man`: shell completions and the man page, generated from
//! the same clap definitions as the parser, so they never drift from it.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for; write the output where your shell loads completions
    /// (e.g. `jit completions bash > /etc/bash_completion.d/jit`)
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut Cli::command(), "jit", &mut out);
    out.flush()?;
    Ok(Status::Success)
}

/// `jit man`: the man page (roff) on stdout, e.g. `jit man > /usr/local/share/man/man1/jit.1`.
pub fn man() -> anyhow::Result<Status> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(Status::Success)
}
