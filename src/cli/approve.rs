//! `jit approve`: print the bytes an approver signs, or sign them with `ssh-keygen` and append
//! the approval to the request's file (`ops::approve`).

use std::io::Write as _;
use std::path::PathBuf;

use super::{Global, Status};
use crate::ops::approve::{self, ApproveOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The id of the request to approve (its `request "<id>"` label)
    #[arg(value_name = "REQUEST_ID")]
    pub request: String,
    /// Print the exact bytes that are signed (docs/approvals.md), and sign nothing. Sign them
    /// yourself with `ssh-keygen -Y sign -n jit-approval -f KEY`
    #[arg(long, conflicts_with_all = ["key", "by"])]
    pub message: bool,
    /// SSH key to sign with, passed to `ssh-keygen -f`: a private key, or a public key whose
    /// private half is in ssh-agent (hardware keys work). Default: git's `user.signingkey`,
    /// else the first of ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa, ~/.ssh/id_rsa
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The principal you sign as, as the allowed_signers file lists you. Default: git's
    /// `user.email` in the config directory
    #[arg(long, value_name = "PRINCIPAL")]
    pub by: Option<String>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Status> {
    if args.message {
        let message = approve::message(&global.dir, &args.request)?;
        let mut out = std::io::stdout().lock();
        out.write_all(message.as_bytes())?;
        out.flush()?;
        return Ok(Status::Success);
    }
    let approved = approve::approve(&ApproveOptions {
        dir: global.dir.clone(),
        request: args.request.clone(),
        key: args.key,
        by: args.by,
    })?;
    if !global.quiet {
        eprintln!(
            "Approved `{}` as `{}` with key `{}`; the approval is appended to {}",
            args.request,
            approved.by,
            approved.key.display(),
            approved.file
        );
    }
    Ok(Status::Success)
}
