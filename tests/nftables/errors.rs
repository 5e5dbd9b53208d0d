//! Clear errors when `nft` is missing, when jit is not root, and when the kernel refuses
//! concatenated CIDR intervals (Linux before 5.6).

use std::os::unix::fs::PermissionsExt;

use jit::providers::nftables::{self, Nft, NftError};

use super::enforcement::spec;
use super::lab::Lab;

#[test]
fn a_missing_nft_says_what_to_install() {
    let nft = Nft::new("/nonexistent/nft");
    let err = nftables::read(&nft, "jit").unwrap_err();
    assert!(matches!(err, NftError::Missing { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("`/nonexistent/nft` not found") && text.contains("apt-get install nftables"),
        "{text}"
    );
}

#[test]
fn not_root_says_jit_needs_root() {
    let Some(lab) = Lab::new("not-root") else {
        return;
    };
    // The real nft inside the lab, run as nobody.
    let nft = Nft::wrapped(
        "ip",
        [
            "netns",
            "exec",
            lab.server.as_str(),
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "nft",
        ],
    );
    let err = nftables::read(&nft, "jit").unwrap_err();
    assert!(matches!(err, NftError::NotPermitted { .. }), "{err:?}");
    assert!(err.to_string().contains("run jit as root"), "{err}");
    assert_eq!(
        nftables::read(&lab.nft(), "jit").unwrap(),
        None,
        "nothing was written"
    );
}

#[test]
fn a_kernel_without_concatenated_intervals_is_named() {
    // An `nft` that answers as nft does on Linux before 5.6 when a set of concatenated
    // intervals is added.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("nft");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in --version) echo 'nftables v1.0.6 (Lester Gooch #5)';; -j) echo 'Error: No such file or directory' >&2; exit 1;; *) cat >/dev/null; echo 'internal:0:0-0: Error: Could not process rule: Operation not supported' >&2; exit 1;; esac\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nft = Nft::new(&fake);
    // As root the capability check passes; as another user it is what fails first.
    let err = nftables::apply(&nft, &spec(&[("INC-1", "192.0.2.2/32", 60)])).unwrap_err();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(matches!(err, NftError::NoConcatIntervals { .. }), "{err:?}");
        assert!(err.to_string().contains("Linux 5.6 or later"), "{err}");
    } else {
        assert!(matches!(err, NftError::NotPermitted { .. }), "{err:?}");
    }
}
