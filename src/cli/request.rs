//! `jit request`: flags → [`RequestOptions`] → `ops::request` → the request file written, and
//! the next steps (commit, pull request, approve) printed as commands that can be pasted.

use std::io::Write as _;
use std::path::PathBuf;

use jiff::Timestamp;

use super::{Global, Status};
use crate::diag;
use crate::ops::request::{self, RequestError, RequestOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The target to open, as the policy names it
    #[arg(long, value_name = "NAME")]
    pub target: String,
    /// Ports of the target, by name or number (comma-separated or repeated)
    #[arg(long, value_name = "PORT", value_delimiter = ',', required = true)]
    pub ports: Vec<String>,
    /// The address or CIDR to open to (such as 203.0.113.9 or 203.0.113.0/28)
    #[arg(long, value_name = "CIDR")]
    pub source: String,
    /// How long: 90m, 3h, 1h30m, PT3H
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: String,
    /// Why, starting with the ticket (such as "INC-1 investigate failed deploy")
    #[arg(long = "why", value_name = "TEXT")]
    pub justification: String,
    /// When access opens (RFC 3339) [default: now]
    #[arg(long, value_name = "RFC3339", value_parser = super::parse_at)]
    pub start: Option<Timestamp>,
    /// The request id [default: the justification's ticket and the requester, INC-1-alice]
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Who approves (comma-separated or repeated); only where approvals are not signed
    #[arg(long, value_name = "EMAIL", value_delimiter = ',')]
    pub approvers: Vec<String>,
    /// Who asks [default: git's `user.email`]
    #[arg(long, value_name = "EMAIL")]
    pub requester: Option<String>,
    /// Where to write it, relative to the config directory [default: requests/ID.hcl]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    let opts = RequestOptions {
        dir: global.dir.clone(),
        id: args.id,
        target: args.target,
        ports: args.ports,
        source: args.source,
        duration: args.duration,
        justification: args.justification,
        start: args.start.unwrap_or_else(super::now),
        requester: args.requester,
        approvers: args.approvers,
        out: args.out,
    };
    let written = match request::request(&opts) {
        Ok(written) => written,
        Err(RequestError::Invalid {
            count,
            diagnostics,
            sources,
        }) => {
            let mut err = std::io::stderr().lock();
            diag::render_text(&mut err, &diagnostics, &sources, global.color_stderr())?;
            writeln!(
                err,
                "error: invalid request: {count} error{}, as `jit validate` would report; nothing was written",
                if count == 1 { "" } else { "s" }
            )?;
            err.flush()?;
            return Ok(Status::Failure);
        }
        Err(other) => return Err(other.into()),
    };
    if global.quiet {
        return Ok(Status::Success);
    }
    let mut err = std::io::stderr().lock();
    if !written.warnings.is_empty() {
        diag::render_text(
            &mut err,
            &written.warnings,
            &written.sources,
            global.color_stderr(),
        )?;
    }
    let quote = super::shell_word;
    let checked = match &written.pending {
        Some(pending) => format!("`jit validate` passes with it once approved ({pending})"),
        None => "`jit validate` passes with it".to_string(),
    };
    writeln!(
        err,
        "Wrote request `{}` to {}; {checked}.\n\nNext:\n    git add {}\n    git commit -m {}\n    then open a pull request for review",
        written.id,
        written.file,
        quote(&written.file),
        quote(&format!("request {}", written.id)),
    )?;
    if written.signed {
        writeln!(
            err,
            "    each approver runs: {}",
            super::jit_command(global, &["approve", &written.id])
        )?;
    }
    writeln!(
        err,
        "    once it is merged: {}",
        super::jit_command(global, &["plan"])
    )?;
    err.flush()?;
    Ok(Status::Success)
}
