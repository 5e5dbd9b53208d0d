//! `jit validate`: static checks of the config directory; no provider is contacted.

use std::io::Write;

use super::{Global, Status};
use crate::diag;
use crate::ops::config::{self, LoadError};

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: rustc-like, with the source line, a caret and the hint (stderr)
    Text,
    /// A JSON list of `{file, line, column, severity, code, message, hint}` (stdout)
    Json,
    /// GitHub Actions workflow commands, `::error file=…,line=…,col=…::…` (stdout)
    Github,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format of the diagnostics. `text` is for people and goes to stderr; `json` and
    /// `github` (workflow commands that annotate a pull request) are data and go to stdout,
    /// as ruff and terraform do. The one-line summary always goes to stderr. Exit status: 0
    /// when valid, 1 otherwise.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    match config::load(&global.dir) {
        Ok(loaded) => {
            let policy = &loaded.policy;
            if args.format == Format::Json {
                diag::render_json(&mut std::io::stdout().lock(), &[])?;
            }
            if !global.quiet {
                eprintln!(
                    "valid: {} target{}, {} request{}",
                    policy.targets.len(),
                    plural(policy.targets.len()),
                    policy.grants.len(),
                    plural(policy.grants.len())
                );
            }
            Ok(Status::Success)
        }
        Err(LoadError::Invalid {
            diagnostics,
            sources,
        }) => {
            let files = {
                let mut f = diagnostics.iter().map(|d| &d.file).collect::<Vec<_>>();
                f.dedup();
                f.len()
            };
            match args.format {
                Format::Text => {
                    let mut err = std::io::stderr().lock();
                    diag::render_text(&mut err, &diagnostics, &sources, global.color_stderr())?;
                    err.flush()?;
                }
                Format::Json => {
                    let mut out = std::io::stdout().lock();
                    diag::render_json(&mut out, &diagnostics)?;
                    out.flush()?;
                }
                Format::Github => {
                    let mut out = std::io::stdout().lock();
                    diag::render_github(&mut out, &diagnostics)?;
                    out.flush()?;
                }
            }
            eprintln!(
                "error: invalid config: {} error{} in {} file{}",
                diagnostics.len(),
                plural(diagnostics.len()),
                files,
                plural(files)
            );
            Ok(Status::Failure)
        }
        Err(other) => Err(other.into()),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
