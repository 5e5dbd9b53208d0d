//! `jit plan`: flags → [`PlanOptions`] → `ops::plan` → the plan as text or JSON on stdout,
//! optionally saved for `jit apply FILE`. Also the small helpers the other live-state commands
//! share (loading the policy, provider options).

use std::io::Write;
use std::path::PathBuf;

use jiff::Timestamp;

use super::{clock, Global, Status};
use crate::diag;
use crate::model::Policy;
use crate::ops::config::{self, LoadError, Loaded};
use crate::ops::plan::PlanOptions;
use crate::ops::planfile;
use crate::ops::OpenOptions;
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Save the plan to FILE; `jit apply FILE` applies exactly these actions
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (the saved-plan document) instead of text
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when changes are pending or findings need attention
    /// (exposure, overdue grant, priority clash), 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan as of this time instead of now (RFC 3339, e.g. 2026-11-25T15:00:00Z)
    #[arg(long, value_name = "RFC3339", value_parser = super::parse_at)]
    pub at: Option<Timestamp>,
    /// Only plan changes for this target (repeat for several)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Only the targets in this Azure subscription (repeat for several): shard an estate
    /// across runners
    #[arg(long = "subscription", value_name = "ID")]
    pub subscriptions: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let mut config = load_config(global)?;
    crate::ops::shard::narrow(&mut config, &args.subscriptions)?;
    let opts = PlanOptions {
        at: clock(args.at),
        targets: args.targets,
    };
    warn_expired_accepts(global, &config.policy, opts.at)?;
    let plan = {
        let _spinner = super::progress::Spinner::start(global, "reading live state");
        crate::ops::plan::plan(&config, &opts, &open_options(global, 10))?
    };
    print_plan(global, &plan, args.json)?;
    if let Some(path) = &args.out {
        planfile::write(path, &plan)?;
        if !global.quiet {
            let file = path.to_string_lossy();
            let at = args.at.map(|at| at.to_string());
            let mut apply = vec!["apply", file.as_ref()];
            if let Some(at) = &at {
                apply.extend(["--at", at.as_str()]);
            }
            eprintln!(
                "\nSaved the plan to: {}\n\nTo perform exactly these actions, run:\n    {}",
                path.display(),
                super::jit_command(global, &apply)
            );
        }
    }
    if !plan.errors.is_empty() {
        print_plan_errors(&config, &plan);
        return Ok(Status::Failure);
    }
    Ok(
        if args.detailed_exitcode && (plan.has_changes() || plan.has_findings()) {
            Status::Changes
        } else {
            Status::Success
        },
    )
}

/// A plan's errors on stderr (the configuration's were rendered in full when it was loaded),
/// and what they mean for the plan.
pub(super) fn print_plan_errors(config: &Loaded, plan: &Plan) {
    for error in plan.errors.iter().filter(|e| e.scope.is_some()) {
        eprintln!("error: {}", error.message);
    }
    let invalid = diag::error_count(&config.diagnostics);
    if invalid > 0 {
        eprintln!(
            "error: invalid config: {invalid} error{}",
            if invalid == 1 { "" } else { "s" }
        );
    }
    eprintln!(
        "error: the plan is incomplete: with errors it holds only changes that close access; \
         fix them and re-run jit plan to open any"
    );
}

/// The plan on stdout, as text (coloured on a terminal) or JSON.
pub(super) fn print_plan(global: &Global, plan: &Plan, json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        out.write_all(&planfile::to_json(plan))?;
    } else {
        crate::render::text::render(plan, global.color_stdout(), &mut out)?;
    }
    out.flush()?;
    Ok(())
}

/// Reads and validates the config directory, keeping its errors (a plan with errors still
/// closes access, see `ops::plan`); diagnostics go to stderr (warnings not with `--quiet`).
pub(super) fn load_config(global: &Global) -> anyhow::Result<Loaded> {
    let loaded = config::load_lenient(&global.dir)?;
    let shown: Vec<diag::Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| !global.quiet || d.severity == diag::Severity::Error)
        .cloned()
        .collect();
    if !shown.is_empty() {
        let mut err = std::io::stderr().lock();
        diag::render_text(&mut err, &shown, &loaded.sources, global.color_stderr())?;
        err.flush()?;
    }
    Ok(loaded)
}

/// Reads and validates the config directory; diagnostics (warnings too) go to stderr.
pub(super) fn load_valid(global: &Global) -> anyhow::Result<Loaded> {
    match config::load(&global.dir) {
        Ok(loaded) => {
            if !loaded.diagnostics.is_empty() && !global.quiet {
                let mut err = std::io::stderr().lock();
                diag::render_text(
                    &mut err,
                    &loaded.diagnostics,
                    &loaded.sources,
                    global.color_stderr(),
                )?;
                err.flush()?;
            }
            Ok(loaded)
        }
        Err(LoadError::Invalid {
            diagnostics,
            sources,
        }) => {
            let mut err = std::io::stderr().lock();
            diag::render_text(&mut err, &diagnostics, &sources, global.color_stderr())?;
            err.flush()?;
            anyhow::bail!(
                "invalid config: {} error{}",
                diag::error_count(&diagnostics),
                if diag::error_count(&diagnostics) == 1 {
                    ""
                } else {
                    "s"
                }
            )
        }
        Err(other) => Err(other.into()),
    }
}

/// A warning for each `accept` expired at `at`: its rule's exposure is a finding again.
pub(super) fn warn_expired_accepts(
    global: &Global,
    policy: &Policy,
    at: Timestamp,
) -> anyhow::Result<()> {
    let warnings = crate::lang::accept::expired(policy, at);
    if warnings.is_empty() || global.quiet {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    diag::render_text(&mut err, &warnings, &[], global.color_stderr())?;
    err.flush()?;
    Ok(())
}

pub(super) fn open_options(global: &Global, parallelism: usize) -> OpenOptions {
    OpenOptions {
        config_dir: global.dir.clone(),
        parallelism: parallelism.max(1),
        ..OpenOptions::default()
    }
}
