//! The command line: clap definitions, and one file per subcommand that turns flags into
//! options and calls one operation. The clock is read here and nowhere else.

mod apply;
mod approve;
mod completions;
mod fmt;
mod plan;
mod progress;
mod request;
mod schema;
mod show;
mod status;
mod validate;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use jiff::Timestamp;

/// Exit statuses, as Terraform has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success; with `--detailed-exitcode`, also "no changes".
    Success = 0,
    /// Bad input, invalid config, provider failure, stale plan.
    Failure = 1,
    /// With `--detailed-exitcode`: success, and changes are pending.
    Changes = 2,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// Just-in-time access to management ports, planned and applied like Terraform.
#[derive(Debug, Parser)]
#[command(
    name = "jit",
    version,
    about,
    long_about = None,
    after_help = "Terraform's single-dash spellings work too: -out=FILE, -auto-approve, \
                  -detailed-exitcode, -target=NAME, -no-color, -json, -chdir=DIR (for -C), and \
                  every other long flag with one dash."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Config directory: every *.hcl file under it is policy or a request
    #[arg(
        short = 'C',
        long = "chdir",
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Never colour output (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl Global {
    /// Colour on stdout: a terminal, no `--no-color`, no `NO_COLOR`.
    pub fn color_stdout(&self) -> bool {
        !self.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal()
    }

    /// Colour on stderr, by the same rules.
    pub fn color_stderr(&self) -> bool {
        !self.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config files; no provider is contacted
    Validate(validate::Args),
    /// Rewrite config files in the canonical layout, comments kept
    Fmt(fmt::Args),
    /// Show what apply would change in the live firewall
    Plan(plan::Args),
    /// Make the live firewall match the policy (or apply a saved plan)
    Apply(apply::Args),
    /// Print a saved plan
    Show(show::Args),
    /// Active grants in live state, with time left; overdue ones flagged
    Status(status::Args),
    /// Print the JSON Schema of a file kind (HCL's JSON form)
    Schema(schema::Args),
    /// Print shell completions (bash, zsh, fish, powershell, elvish)
    Completions(completions::Args),
    /// Print the man page (roff)
    Man,
    /// Sign a request's approval with ssh-keygen and append it to the request's file
    Approve(approve::Args),
    /// Write a validated, formatted request file from flags
    Request(request::Args),
}

/// The machine's clock, truncated to whole seconds (plans and audit lines carry readable
/// times). Read once per run, here and nowhere else.
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// The clock a command runs with: `--at` when given, else [`now`].
pub fn clock(at: Option<Timestamp>) -> Timestamp {
    at.unwrap_or_else(now)
}

/// Parses `--at`: RFC 3339 only, within the range jit accepts for any time, so arithmetic on
/// it never overflows (a clear error, never a panic).
pub fn parse_at(s: &str) -> Result<Timestamp, String> {
    crate::lang::values::time(s).map_err(|bad| match bad.hint {
        Some(hint) => format!("{}\n  hint: {hint}", bad.message),
        None => bad.message,
    })
}

pub fn main() -> ExitCode {
    // A usage error exits 1, not clap's 2: with `--detailed-exitcode`, 2 means "changes pending".
    let cli = match Cli::try_parse_from(terraform_spellings(std::env::args_os())) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Status::Failure.into()
            } else {
                Status::Success.into()
            };
        }
    };
    init_logging(&cli.global);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Fmt(args) => fmt::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Show(args) => show::run(&cli.global, args),
        Command::Status(args) => status::run(&cli.global, args),
        Command::Schema(args) => schema::run(&cli.global, args),
        Command::Completions(args) => completions::run(args),
        Command::Man => completions::man(),
        Command::Approve(args) => approve::run(&cli.global, args),
        Command::Request(args) => request::run(&cli.global, args),
    };
    progress::summary(&cli.global);
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return Status::Success.into();
            }
            eprintln!("error: {err:#}");
            Status::Failure.into()
        }
    }
}

/// Terraform's spellings of long flags, one dash (`-out=FILE`, `-auto-approve`, `-chdir=DIR`),
/// rewritten to clap's (`--out=FILE`, …). Only words whose name is a long flag of jit are
/// rewritten, so short flags (`-C`, `-vv`) and values stay as they are, and nothing after `--`.
pub fn terraform_spellings<I>(args: I) -> Vec<std::ffi::OsString>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    let longs = long_flags(&Cli::command());
    let mut out = Vec::new();
    let mut rest = false;
    for arg in args {
        let arg: std::ffi::OsString = arg.into();
        let rewritten = match arg.to_str() {
            _ if rest => None,
            Some("--") => {
                rest = true;
                None
            }
            Some(word) => word
                .strip_prefix('-')
                .filter(|name| !name.starts_with('-'))
                .filter(|name| longs.contains(name.split('=').next().unwrap_or(name)))
                .map(|name| format!("--{name}").into()),
            None => None,
        };
        out.push(rewritten.unwrap_or(arg));
    }
    out
}

/// Every long flag of the command and its subcommands, with more than one letter.
fn long_flags(command: &clap::Command) -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| l.len() > 1)
        .map(str::to_string)
        .collect();
    for sub in command.get_subcommands() {
        out.extend(long_flags(sub));
    }
    out.insert("help".into());
    out.insert("version".into());
    out
}

/// A `jit …` command line to print as a next step ([`crate::ops::next::command`]).
pub(crate) fn jit_command(global: &Global, args: &[&str]) -> String {
    crate::ops::next::command(&global.dir, args)
}

pub(crate) use crate::ops::next::shell_word;

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(global: &Global) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("JIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("jit={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(global.color_stderr())
        .without_time()
        .try_init();
}
