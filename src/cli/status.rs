//! `jit status`: the grants open in live state, who asked and who approved, with time left;
//! overdue grants and grants wider than their request flagged; exposures listed. With
//! `--detailed-exitcode`, exit 2 when any of those needs attention.

use std::io::Write;

use jiff::Timestamp;
use serde_json::json;

use super::{clock, Global, Status};
use crate::duration::span;
use crate::ops::status::{GrantStatus, StatusReport};
use crate::render::text::scope_words;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the grants as JSON
    #[arg(long)]
    pub json: bool,
    /// Report as of this time instead of now (RFC 3339)
    #[arg(long, value_name = "RFC3339", value_parser = super::parse_at)]
    pub at: Option<Timestamp>,
    /// Exit 2 when a grant is overdue or wider than its request, or a port is exposed; 0
    /// when nothing needs attention; 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Only the targets in this Azure subscription (repeat for several): shard an estate
    /// across runners
    #[arg(long = "subscription", value_name = "ID")]
    pub subscriptions: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let mut config = super::plan::load_valid(global)?;
    crate::ops::shard::narrow(&mut config, &args.subscriptions)?;
    let at = clock(args.at);
    super::plan::warn_expired_accepts(global, &config.policy, at)?;
    let report = {
        let _spinner = super::progress::Spinner::start(global, "reading live state");
        crate::ops::status::status(&config, at, &super::plan::open_options(global, 10))?
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = json!({
            "at": at,
            "grants": report.grants.iter().map(|g| {
                let mut value = serde_json::to_value(g).unwrap_or_default();
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("left".into(), left(g).into());
                }
                value
            }).collect::<Vec<_>>(),
            "exposures": report.exposures,
            "accepted": report.accepted,
            "errors": report.errors,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &report.grants)?;
        write_attention(&mut out, &report)?;
    }
    out.flush()?;
    let grants = &report.grants;
    let overdue = grants.iter().filter(|g| g.overdue).count();
    if overdue > 0 && !global.quiet {
        eprintln!(
            "warning: {overdue} grant{} past {} expiry; `{}` revokes {}",
            if overdue == 1 { " is" } else { "s are" },
            if overdue == 1 { "its" } else { "their" },
            super::jit_command(global, &["apply"]),
            if overdue == 1 { "it" } else { "them" },
        );
    }
    let wider = grants.iter().filter(|g| !g.wider.is_empty()).count();
    if wider > 0 && !global.quiet {
        eprintln!(
            "warning: {wider} grant{} wider than {} request; `{}` restores {}",
            if wider == 1 { " is" } else { "s are" },
            if wider == 1 { "its" } else { "their" },
            super::jit_command(global, &["apply"]),
            if wider == 1 { "it" } else { "them" },
        );
    }
    let exposed = report.exposures.len();
    if exposed > 0 && !global.quiet {
        eprintln!(
            "warning: {exposed} exposure{} found; jit never changes foreign rules: fix {} or accept {} with an `accept` block",
            if exposed == 1 { "" } else { "s" },
            if exposed == 1 { "it" } else { "them" },
            if exposed == 1 { "it" } else { "them" },
        );
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    if !report.errors.is_empty() {
        eprintln!("error: the status is incomplete: these targets could not be resolved");
        return Ok(Status::Failure);
    }
    Ok(if args.detailed_exitcode && report.needs_attention() {
        Status::Changes
    } else {
        Status::Success
    })
}

/// Below the table: grants wider than their request, exposures, accepted exposures.
fn write_attention(out: &mut dyn Write, report: &StatusReport) -> std::io::Result<()> {
    let wider: Vec<&GrantStatus> = report
        .grants
        .iter()
        .filter(|g| !g.wider.is_empty())
        .collect();
    if !wider.is_empty() {
        writeln!(out)?;
        writeln!(out, "Wider than requested:")?;
        for g in wider {
            let request = g.request.as_deref().unwrap_or("?");
            let what = g
                .wider
                .iter()
                .map(|w| {
                    format!(
                        "{} {} (requested {})",
                        w.property,
                        quoted(&w.live),
                        quoted(&w.requested)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(out, "  {} of request `{request}`: {what}", g.address)?;
        }
    }
    if !report.exposures.is_empty() {
        writeln!(out)?;
        writeln!(out, "Exposures:")?;
        for f in &report.exposures {
            writeln!(out, "  {}: {}", scope_words(&f.scope), f.message)?;
        }
    }
    if !report.accepted.is_empty() {
        writeln!(out)?;
        writeln!(out, "Accepted:")?;
        for a in &report.accepted {
            writeln!(
                out,
                "  {}: rule `{}` accepted by `{}` until {}: {}",
                scope_words(&a.scope),
                a.resource,
                a.accept,
                a.expires,
                a.justification
            )?;
        }
    }
    Ok(())
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_table(out: &mut dyn Write, grants: &[GrantStatus]) -> std::io::Result<()> {
    if grants.is_empty() {
        return writeln!(out, "No open grants in live state.");
    }
    let header = [
        "REQUEST",
        "TARGET",
        "REQUESTER",
        "APPROVERS",
        "RULE",
        "SOURCE",
        "PORT",
        "EXPIRES",
        "LEFT",
        "FILE",
    ];
    let rows: Vec<[String; 10]> = grants
        .iter()
        .map(|g| {
            [
                g.request.clone().unwrap_or_else(|| "-".into()),
                g.target.clone().unwrap_or_else(|| "-".into()),
                g.requester.clone().unwrap_or_else(|| "-".into()),
                if g.approvers.is_empty() {
                    "-".into()
                } else {
                    g.approvers.join(",")
                },
                g.address.clone(),
                g.sources.join(","),
                format!("{}/{}", g.ports.join(","), g.protocol.to_lowercase()),
                g.expires.map_or_else(|| "-".into(), |e| e.to_string()),
                left(g),
                g.file.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &header)?;
    for row in &rows {
        line(out, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(())
}

fn left(g: &GrantStatus) -> String {
    let left = match g.time_left() {
        None => "unknown expiry".into(),
        Some(d) if g.overdue => format!("OVERDUE by {}", span(-d)),
        Some(d) => span(d),
    };
    if g.wider.is_empty() {
        left
    } else {
        format!("{left}, WIDER than requested")
    }
}
