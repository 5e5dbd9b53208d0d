//! `jit fmt`: rewrite config files in the canonical layout (`ops::fmt`), or check them.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;

use super::{Global, Status};
use crate::lang::fmt::format;
use crate::ops::fmt::{fmt, unified_diff, FmtOptions, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write nothing; list the files that are not formatted and exit 1 if there are any
    #[arg(long)]
    pub check: bool,
    /// Print a unified diff of every change
    #[arg(long)]
    pub diff: bool,
    /// Files or folders to format, relative to the config directory (default: every *.hcl file
    /// under it); `-` formats standard input to standard output
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    if args.files.iter().any(|f| f.as_os_str() == "-") {
        if args.files.len() > 1 {
            anyhow::bail!("`-` (standard input) cannot be combined with other files");
        }
        return stdin(&args);
    }
    let options = FmtOptions {
        dir: global.dir.clone(),
        files: args.files,
        check: args.check,
        diff: args.diff,
    };
    let reports = fmt(&options)?;
    let mut stdout = std::io::stdout().lock();
    let mut status = Status::Success;
    for report in reports {
        match report.outcome {
            Outcome::Unchanged => {}
            Outcome::Changed { diff } => {
                writeln!(stdout, "{}", report.path)?;
                if let Some(diff) = diff {
                    write!(stdout, "{diff}")?;
                }
                if options.check {
                    status = Status::Failure;
                }
            }
            Outcome::Invalid(err) => {
                stdout.flush()?;
                eprintln!(
                    "error: {}:{}:{}: {}",
                    report.path, err.line, err.column, err.message
                );
                status = Status::Failure;
            }
            Outcome::Failed(err) => {
                stdout.flush()?;
                eprintln!("error: {err:#}");
                status = Status::Failure;
            }
        }
    }
    stdout.flush()?;
    Ok(status)
}

/// `jit fmt -`: standard input to standard output, for editors. With `--check`, prints nothing
/// and exits 1 when the input is not formatted.
fn stdin(args: &Args) -> anyhow::Result<Status> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read standard input")?;
    let formatted = match format(&text) {
        Ok(formatted) => formatted,
        Err(err) => {
            eprintln!(
                "error: <stdin>:{}:{}: {}",
                err.line, err.column, err.message
            );
            return Ok(Status::Failure);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if args.diff && formatted != text {
        write!(stdout, "{}", unified_diff("<stdin>", &text, &formatted))?;
    } else if !args.check {
        write!(stdout, "{formatted}")?;
    }
    stdout.flush()?;
    Ok(if args.check && formatted != text {
        Status::Failure
    } else {
        Status::Success
    })
}
