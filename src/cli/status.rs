//! `jit status`: the grants open in live state, with time left; overdue ones flagged.

use std::io::Write;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::{clock, Global, Status};
use crate::ops::status::GrantStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the grants as JSON
    #[arg(long)]
    pub json: bool,
    /// Report as of this time instead of now (RFC 3339)
    #[arg(long, value_name = "RFC3339", value_parser = super::parse_at)]
    pub at: Option<Timestamp>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let policy = super::plan::load_policy(global)?;
    let at = clock(args.at);
    let grants = crate::ops::status::status(&policy, at, &super::plan::open_options(global, 10))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = json!({ "at": at, "grants": grants });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &grants)?;
    }
    out.flush()?;
    let overdue = grants.iter().filter(|g| g.overdue).count();
    if overdue > 0 && !global.quiet {
        eprintln!(
            "warning: {overdue} grant{} past {} expiry; `jit apply` revokes {}",
            if overdue == 1 { " is" } else { "s are" },
            if overdue == 1 { "its" } else { "their" },
            if overdue == 1 { "it" } else { "them" },
        );
    }
    Ok(Status::Success)
}

fn write_table(out: &mut dyn Write, grants: &[GrantStatus]) -> std::io::Result<()> {
    if grants.is_empty() {
        return writeln!(out, "No open grants in live state.");
    }
    let header = [
        "REQUEST", "TARGET", "RULE", "SOURCE", "PORT", "EXPIRES", "LEFT",
    ];
    let rows: Vec<[String; 7]> = grants
        .iter()
        .map(|g| {
            [
                g.request.clone().unwrap_or_else(|| "-".into()),
                g.target.clone().unwrap_or_else(|| "-".into()),
                g.address.clone(),
                g.sources.join(","),
                format!("{}/{}", g.ports.join(","), g.protocol.to_lowercase()),
                g.expires.map_or_else(|| "-".into(), |e| e.to_string()),
                left(g),
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
    match g.time_left() {
        None => "unknown expiry".into(),
        Some(d) if g.overdue => format!("OVERDUE by {}", human(-d)),
        Some(d) => human(d),
    }
}

/// `2h 5m`, `45m`, `30s`.
pub(super) fn human(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}
