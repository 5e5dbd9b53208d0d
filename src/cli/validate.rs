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
            let mut warnings = loaded.diagnostics.clone();
            // An accept past its `expires` by the machine's clock: its rule is a finding again.
            warnings.extend(crate::lang::accept::expired(policy, super::clock(None)));
            let order = |path: &str| loaded.sources.iter().position(|s| s.path == path);
            warnings.sort_by_key(|d| (order(&d.file), d.line, d.column));
            let warnings = &warnings;
            render(global, args.format, warnings, &loaded.sources)?;
            if global.verbose > 0 && !global.quiet {
                let mut err = std::io::stderr().lock();
                for line in port_lines(policy, &loaded.port_defaults) {
                    writeln!(err, "{line}")?;
                }
            }
            if !global.quiet {
                let noted = match warnings.len() {
                    0 => String::new(),
                    n => format!(" ({n} warning{})", plural(n)),
                };
                eprintln!(
                    "valid: {} target{}, {} request{}{noted}",
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
            render(global, args.format, &diagnostics, &sources)?;
            eprintln!(
                "error: invalid config: {} error{} in {} file{}",
                diag::error_count(&diagnostics),
                plural(diag::error_count(&diagnostics)),
                files,
                plural(files)
            );
            Ok(Status::Failure)
        }
        Err(other) => Err(other.into()),
    }
}

/// Diagnostics in the chosen format: text to stderr, JSON and GitHub commands to stdout. JSON is
/// always printed (an empty list when there is nothing to say); text and GitHub only when there
/// is something.
fn render(
    global: &Global,
    format: Format,
    diagnostics: &[diag::Diagnostic],
    sources: &[crate::lang::SourceFile],
) -> std::io::Result<()> {
    match format {
        Format::Text if !diagnostics.is_empty() => {
            let mut err = std::io::stderr().lock();
            diag::render_text(&mut err, diagnostics, sources, global.color_stderr())?;
            err.flush()
        }
        Format::Json => {
            let mut out = std::io::stdout().lock();
            diag::render_json(&mut out, diagnostics)?;
            out.flush()
        }
        Format::Github if !diagnostics.is_empty() => {
            let mut out = std::io::stdout().lock();
            diag::render_github(&mut out, diagnostics)?;
            out.flush()
        }
        _ => Ok(()),
    }
}

/// `-v`: one line per port of every valid target, with its values and which of them jit
/// filled in (`(default)`).
fn port_lines(
    policy: &crate::model::Policy,
    defaults: &[crate::lang::PortDefaults],
) -> Vec<String> {
    let mut lines = Vec::new();
    for target in &policy.targets {
        for port in &target.ports {
            let defaulted = defaults
                .iter()
                .find(|d| d.target == target.name && d.port == port.name)
                .map(|d| d.defaulted)
                .unwrap_or_default();
            let mark = |d: bool, what: &str| {
                if d {
                    format!(" (default{what})")
                } else {
                    String::new()
                }
            };
            let known = format!(" for `{}`", port.name);
            let sources = if port.allowed_sources.is_empty() {
                "none".to_string()
            } else if crate::lang::values::any_source()
                .iter()
                .all(|n| port.allowed_sources.contains(n))
            {
                "*".to_string()
            } else {
                port.allowed_sources
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            lines.push(format!(
                "target `{}` port `{}`: number {}{}, protocol {}{}, max_duration {}{}, allowed_sources {sources}",
                target.name,
                port.name,
                port.number,
                mark(defaulted.number, &known),
                port.protocol,
                mark(defaulted.protocol, ""),
                crate::lang::values::friendly_duration(port.max_duration.as_secs() / 60),
                mark(defaulted.max_duration, ""),
            ));
        }
    }
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
