//! `jit apply [PLANFILE]`: apply a saved plan, or plan now, show it, ask, and apply. Progress
//! on stderr (a bar on a terminal), the summary on stdout, every outcome in the audit log.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;

use super::{Global, Status};
use crate::live::name_from_id;
use crate::ops::apply::{ApplyOptions, ApplySummary, MAX_REPLAN_ROUNDS};
use crate::ops::audit::{self, AuditContext};
use crate::ops::plan::PlanOptions;
use crate::ops::planfile;
use crate::ops::Outcome;
use crate::plan::{Action, Plan, ResourceChange};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved by `jit plan --out FILE`; without it, plan now and ask before applying
    #[arg(value_name = "PLANFILE")]
    pub planfile: Option<PathBuf>,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply as of this time instead of now (RFC 3339). Only within 60 s of the machine's clock
    /// when a provider changes a real firewall; any time on the snapshot provider (a rehearsal)
    #[arg(long, value_name = "RFC3339", value_parser = super::parse_at)]
    pub at: Option<Timestamp>,
    /// Only apply changes for this target (repeat for several); not with a saved plan
    #[arg(long = "target", value_name = "NAME", conflicts_with = "planfile")]
    pub targets: Vec<String>,
    /// Append the audit log here [default: .jit/audit.jsonl in the config directory]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Changes in flight at once, across NSGs
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub parallelism: usize,
    /// Only the targets in this Azure subscription (repeat for several): shard an estate
    /// across runners
    #[arg(long = "subscription", value_name = "ID")]
    pub subscriptions: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let mut config = super::plan::load_config(global)?;
    crate::ops::shard::narrow(&mut config, &args.subscriptions)?;
    let now = super::now();
    let at = args.at.unwrap_or(now);
    // Before anything is read from a provider or written: a live apply runs at the machine's
    // time.
    crate::ops::apply::check_clock(&config.policy, &args.targets, at, now, &global.dir)?;
    let open = super::plan::open_options(global, args.parallelism);
    let (plan, plan_json, replan) = match &args.planfile {
        Some(path) => {
            let (plan, json) = planfile::read(path)?;
            (plan, json, None)
        }
        None => {
            let opts = PlanOptions {
                at,
                targets: args.targets.clone(),
            };
            let plan = {
                let _spinner = super::progress::Spinner::start(global, "reading live state");
                crate::ops::plan::plan(&config, &opts, &open)?
            };
            super::plan::print_plan(global, &plan, false)?;
            if !plan.errors.is_empty() {
                // Still apply what closes access (the plan holds nothing else), then fail.
                super::plan::print_plan_errors(&config, &plan);
            }
            if !plan.has_changes() {
                return Ok(if plan.errors.is_empty() {
                    print_summary(&ApplySummary::default())?;
                    Status::Success
                } else {
                    Status::Failure
                });
            }
            if !args.auto_approve && !confirm(global, args.at)? {
                eprintln!("Apply cancelled.");
                return Ok(Status::Failure);
            }
            let json = planfile::to_json(&plan);
            (plan, json, Some(opts))
        }
    };
    let opts = ApplyOptions {
        at,
        now,
        audit_log: args
            .audit_log
            .unwrap_or_else(|| global.dir.join(".jit").join("audit.jsonl")),
        audit: AuditContext {
            time: now,
            at: args.at,
            actor: audit::actor(|name| std::env::var(name).ok()),
            plan_hash: planfile::hash(&plan_json),
            git_commit: crate::ops::git::commit(&global.dir),
        },
        replan,
    };
    let progress = Progress::new(global, plan.resource_changes.len());
    let summary = crate::ops::apply::apply(
        &config,
        &plan,
        &opts,
        &open,
        &|change, outcome| progress.report(change, outcome),
        &|round, replan| {
            progress.extend(replan.resource_changes.len());
            if let Err(e) = print_replan(global, round, replan) {
                tracing::warn!("cannot print the re-plan: {e}");
            }
        },
    )?;
    progress.finish();
    print_summary(&summary)?;
    Ok(if summary.ok() {
        Status::Success
    } else {
        Status::Failure
    })
}

/// Asks on a terminal; refuses off one.
fn confirm(global: &Global, at: Option<Timestamp>) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        let at = at.map(|at| at.to_string());
        let with_at = |words: &[&str]| {
            let mut words = words.to_vec();
            if let Some(at) = &at {
                words.extend(["--at", at.as_str()]);
            }
            super::jit_command(global, &words)
        };
        anyhow::bail!(
            "refusing to apply without confirmation: stdin is not a terminal\n\
             hint: review the plan above and re-run with `--auto-approve`, or save it with \
             `{}` and run `{}`",
            with_at(&["plan", "--out", "FILE"]),
            with_at(&["apply", "FILE"]),
        );
    }
    eprint!(
        "\nDo you want to perform these actions? Only 'yes' will be accepted:\n  Enter a value: "
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Per-change progress on stderr: a bar on a terminal, one line per change otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    fn new(global: &Global, total: usize) -> Progress {
        let bar = (std::io::stderr().is_terminal() && !global.quiet && total > 0).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}") {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            quiet: global.quiet,
        }
    }

    fn report(&self, change: &ResourceChange, outcome: &Outcome) {
        let line = match outcome.why() {
            None => format!("{}: {}", change.address, change.action().done()),
            Some(why) => format!("{}: {}: {why}", change.address, outcome.word()),
        };
        match &self.bar {
            Some(bar) => {
                bar.println(&line);
                bar.set_message(super::progress::throttling());
                bar.inc(1);
            }
            None if !self.quiet || !matches!(outcome, Outcome::Applied) => eprintln!("{line}"),
            None => {}
        }
    }

    /// More changes to come (a re-plan).
    fn extend(&self, more: usize) {
        if let Some(bar) = &self.bar {
            bar.inc_length(more as u64);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A re-plan of NSGs that changed during the apply, on stdout like the first plan, under a
/// heading naming them.
fn print_replan(global: &Global, round: usize, plan: &Plan) -> std::io::Result<()> {
    let names: Vec<String> = plan
        .fingerprints
        .keys()
        .map(|id| format!("`{}`", name_from_id(id)))
        .collect();
    let noun = plan
        .fingerprints
        .keys()
        .next()
        .map_or("scope", |id| crate::render::text::scope_noun(id));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "\n{noun} {} changed during apply; re-planned (round {round} of {MAX_REPLAN_ROUNDS}):\n",
        names.join(", ")
    )?;
    crate::render::text::render(plan, global.color_stdout(), &mut out)?;
    out.flush()
}

fn print_summary(s: &ApplySummary) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let counts = format!(
        "Resources: {}",
        Action::ALL
            .iter()
            .map(|a| format!("{} {}", s.count(*a), a.counted().1))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let replanned = match s.replanned.len() {
        0 => String::new(),
        n => format!(
            "; {n} stale change{} re-planned",
            if n == 1 { "" } else { "s" }
        ),
    };
    if s.failures.is_empty() && s.stale.is_empty() && !s.errors.is_empty() {
        let n = s.errors.len();
        writeln!(
            out,
            "\nApply incomplete! {counts}{replanned}; only changes that close access were \
             applied, because of {n} error{}.",
            if n == 1 { "" } else { "s" }
        )?;
        for error in &s.errors {
            eprintln!("error: {error}");
        }
    } else if s.failures.is_empty() && s.stale.is_empty() {
        writeln!(out, "\nApply complete! {counts}{replanned}.")?;
    } else {
        let failed = s
            .failures
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
            .count();
        let skipped = s.failures.len() - failed;
        writeln!(
            out,
            "\nApply failed! {counts}; {failed} failed, {skipped} not attempted{replanned}."
        )?;
        for (address, outcome) in &s.failures {
            if let (Outcome::Failed { .. }, Some(why)) = (outcome, outcome.why()) {
                eprintln!("error: {address}: {why}");
            }
        }
        for message in &s.stale {
            eprintln!("error: {message}");
        }
        for error in &s.errors {
            eprintln!("error: {error}");
        }
    }
    out.flush()?;
    if let Some(e) = &s.audit_error {
        eprintln!("error: {e}");
    }
    Ok(())
}
