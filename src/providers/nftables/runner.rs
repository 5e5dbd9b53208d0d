//! Running `nft` (std::process): listing jit's table, checking a transaction with `nft -c`,
//! then applying it, and turning what goes wrong into errors that say what to do — no `nft`,
//! no nftables in the kernel, a kernel or nft too old for CIDR sources in a concatenation, not
//! root.

use std::ffi::OsString;
use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Linux 5.6 / nftables 0.9.4: the first with CIDR intervals inside a concatenated set key.
pub const MIN_KERNEL: (u32, u32) = (5, 6);
pub const MIN_NFT: (u32, u32, u32) = (0, 9, 4);

/// Why talking to nftables failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("`{program}` not found; hint: install the `nftables` package (`apt-get install nftables`), or put `nft` on PATH")]
    Missing { program: String },
    #[error("nftables refused jit: {detail}; hint: run jit as root (it needs CAP_NET_ADMIN)")]
    NotPermitted { detail: String },
    #[error("the kernel has no nftables: {detail}; hint: load the `nf_tables` module (`modprobe nf_tables`) or use Linux {}.{} or later", MIN_KERNEL.0, MIN_KERNEL.1)]
    NoNftables { detail: String },
    #[error("{what} `{found}` is too old: CIDR sources in a concatenated set need Linux {}.{} and nftables {}.{}.{} or later", MIN_KERNEL.0, MIN_KERNEL.1, MIN_NFT.0, MIN_NFT.1, MIN_NFT.2)]
    TooOld { what: &'static str, found: String },
    #[error("the kernel refused a set of concatenated CIDR intervals: {detail}; hint: this needs Linux {}.{} or later", MIN_KERNEL.0, MIN_KERNEL.1)]
    NoConcatIntervals { detail: String },
    #[error("`nft {args}` failed: {detail}; nothing was changed")]
    Refused { args: String, detail: String },
    #[error("running `{program}`: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] super::readback::ReadError),
}

impl NftError {
    /// The errno name of a refusal the kernel made (`EPERM`, `EEXIST`, …): the remote code of
    /// outcomes and the audit log.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            NftError::NotPermitted { .. } => Some("EPERM"),
            NftError::NoNftables { .. } => Some("EPROTONOSUPPORT"),
            NftError::NoConcatIntervals { .. } => Some("EOPNOTSUPP"),
            NftError::Refused { detail, .. } => [
                ("File exists", "EEXIST"),
                ("No such file or directory", "ENOENT"),
                ("Device or resource busy", "EBUSY"),
                ("Invalid argument", "EINVAL"),
                ("Numerical result out of range", "ERANGE"),
            ]
            .into_iter()
            .find(|(text, _)| detail.contains(text))
            .map(|(_, code)| code),
            _ => None,
        }
    }
}

/// How to run `nft`: a program and the arguments before nft's own (`nft`, or a wrapper such as
/// `ip netns exec NAME nft`).
#[derive(Debug, Clone)]
pub struct Nft {
    program: OsString,
    prefix: Vec<OsString>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft::new("nft")
    }
}

impl Nft {
    /// `program` is nft itself: a name looked up on PATH or a path.
    pub fn new(program: impl Into<OsString>) -> Nft {
        Nft {
            program: program.into(),
            prefix: Vec::new(),
        }
    }

    /// `program prefix… <nft args>`, e.g. `ip netns exec server nft`.
    pub fn wrapped(
        program: impl Into<OsString>,
        prefix: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Nft {
        Nft {
            program: program.into(),
            prefix: prefix.into_iter().map(Into::into).collect(),
        }
    }

    fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<std::process::Output, NftError> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.prefix)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => NftError::Missing {
                program: self.program_name(),
            },
            _ => NftError::Io {
                program: self.program_name(),
                source,
            },
        })?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A child that exits early closes the pipe; its stderr then says why.
            let _ = pipe.write_all(bytes);
        }
        child.wait_with_output().map_err(|source| NftError::Io {
            program: self.program_name(),
            source,
        })
    }

    fn fail(&self, args: &[&str], output: &std::process::Output) -> NftError {
        let stderr = String::from_utf8_lossy(&output.stderr);
        classify(&args.join(" "), stderr.trim())
    }

    /// nft's version, from `nft --version` (`nftables v1.0.6 (Lester Gooch #5)`).
    pub fn version(&self) -> Result<String, NftError> {
        let output = self.run(&["--version"], None)?;
        if !output.status.success() {
            return Err(self.fail(&["--version"], &output));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text
            .split_whitespace()
            .find_map(|w| w.strip_prefix('v'))
            .unwrap_or(text.trim())
            .to_string())
    }

    /// Everything that can be checked before touching the ruleset: jit may change it, nft and
    /// the kernel are new enough.
    pub fn preflight(&self) -> Result<(), NftError> {
        if let Some(detail) = missing_net_admin() {
            return Err(NftError::NotPermitted { detail });
        }
        check_nft_version(&self.version()?)?;
        if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            check_kernel(release.trim())?;
        }
        Ok(())
    }

    /// `nft -j list table inet <table>`; `None` when there is no such table.
    pub fn list_table(&self, table: &str) -> Result<Option<String>, NftError> {
        let args = ["-j", "list", "table", "inet", table];
        let output = self.run(&args, None)?;
        if output.status.success() {
            return Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No such file or directory") {
            return Ok(None);
        }
        Err(self.fail(&args, &output))
    }

    /// `nft -c -j -f -`: the kernel checks the transaction and applies nothing.
    pub fn check(&self, document: &Value) -> Result<(), NftError> {
        self.transaction(&["-c", "-j", "-f", "-"], document)
    }

    /// `nft -j -f -`: one atomic transaction; when it fails, nothing of it is applied.
    pub fn apply(&self, document: &Value) -> Result<(), NftError> {
        self.transaction(&["-j", "-f", "-"], document)
    }

    fn transaction(&self, args: &[&str], document: &Value) -> Result<(), NftError> {
        let output = self.run(args, Some(document.to_string().as_bytes()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(self.fail(args, &output))
        }
    }
}

/// What an nft failure means, from its message.
pub fn classify(args: &str, stderr: &str) -> NftError {
    let detail = stderr
        .lines()
        .map(|l| l.trim_start_matches("internal:0:0-0: ").trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>();
    let mut seen = std::collections::BTreeSet::new();
    let detail: Vec<&str> = detail.into_iter().filter(|l| seen.insert(*l)).collect();
    let detail = if detail.is_empty() {
        "no message".to_string()
    } else {
        detail.join("; ")
    };
    if stderr.contains("Operation not permitted") {
        NftError::NotPermitted { detail }
    } else if stderr.contains("Protocol not supported")
        || stderr.contains("cache initialization failed")
    {
        NftError::NoNftables { detail }
    } else if stderr.contains("Operation not supported") {
        NftError::NoConcatIntervals { detail }
    } else {
        NftError::Refused {
            args: args.to_string(),
            detail,
        }
    }
}

/// `Some(why)` when this process can neither act as root nor holds CAP_NET_ADMIN.
fn missing_net_admin() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[cfg(unix)]
    if unsafe { libc::geteuid() } == 0 {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    (!has_net_admin(&status)).then(|| "jit runs without root and without CAP_NET_ADMIN".to_string())
}

/// Whether a `/proc/<pid>/status` text grants CAP_NET_ADMIN (bit 12 of `CapEff`).
pub fn has_net_admin(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// Refuses a kernel release (`uname -r`) older than [`MIN_KERNEL`].
pub fn check_kernel(release: &str) -> Result<(), NftError> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) if (major, minor) < MIN_KERNEL => Err(NftError::TooOld {
            what: "Linux",
            found: release.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Refuses an nft version (`1.0.6`) older than [`MIN_NFT`].
pub fn check_nft_version(version: &str) -> Result<(), NftError> {
    let numbers: Vec<u32> = version
        .split('.')
        .map_while(|p| p.parse::<u32>().ok())
        .collect();
    let found = (
        numbers.first().copied(),
        numbers.get(1).copied().unwrap_or(0),
        numbers.get(2).copied().unwrap_or(0),
    );
    match found {
        (Some(major), minor, patch) if (major, minor, patch) < MIN_NFT => Err(NftError::TooOld {
            what: "nftables",
            found: version.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_kernels_and_nft_versions_are_refused_with_what_is_needed() {
        assert!(check_kernel("6.18.44-fc-v1045").is_ok());
        assert!(check_kernel("5.6.0").is_ok());
        let err = check_kernel("5.4.0-150-generic").unwrap_err().to_string();
        assert!(
            err.contains("Linux `5.4.0-150-generic` is too old") && err.contains("5.6"),
            "{err}"
        );
        assert!(check_nft_version("1.0.6").is_ok());
        assert!(check_nft_version("0.9.4").is_ok());
        let err = check_nft_version("0.9.3").unwrap_err().to_string();
        assert!(err.contains("0.9.4"), "{err}");
    }

    #[test]
    fn the_capability_is_read_from_cap_eff() {
        assert!(has_net_admin("Name:\tjit\nCapEff:\t000001ffffffffff\n"));
        assert!(has_net_admin("CapEff:\t0000000000001000\n"));
        assert!(!has_net_admin("CapEff:\t0000000000000000\n"));
        assert!(!has_net_admin("nothing"));
    }

    #[test]
    fn failures_are_told_apart_by_their_message() {
        let e = classify(
            "list tables",
            "Error: Could not process rule: Operation not permitted",
        );
        assert!(matches!(e, NftError::NotPermitted { .. }));
        assert!(e.to_string().contains("root"), "{e}");
        let e = classify("-j -f -", "internal:0:0-0: Error: Could not process rule: Operation not supported\n\ninternal:0:0-0: Error: Could not process rule: Operation not supported");
        assert!(matches!(e, NftError::NoConcatIntervals { .. }));
        assert_eq!(
            e.to_string().matches("Operation not supported").count(),
            1,
            "{e}"
        );
        let e = classify(
            "list tables",
            "netlink: Error: cache initialization failed: Protocol not supported",
        );
        assert!(matches!(e, NftError::NoNftables { .. }));
        let e = classify("-j -f -", "Error: Could not process rule: File exists");
        assert!(
            e.to_string()
                .starts_with("`nft -j -f -` failed: Error: Could not process rule: File exists"),
            "{e}"
        );
    }
}
