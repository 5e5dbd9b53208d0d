//! Azure in NSG mode as a conformance peer: the real `jit` binary against the ARM emulator on
//! 127.0.0.1 (seeded with Azure's example NSG), tokens from a stand-in `az` on `PATH`. An apply
//! is stopped after `k` writes by an emulator fault (`400 BadRequest`, which jit does not
//! retry) on every write from the plan's `k + 1`-th change on, persisting until cleared.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultKind, Trigger};
use crate::grant::{self, Phase};
use crate::nsg::{self, nsg_id, SUB};
use crate::peer::{Peer, Stop};
use crate::support::{config_dir, TestCommand};

pub struct AzurePeer {
    emu: Emulator,
    dir: TempDir,
    /// Holds the stand-in `az`.
    bin: TempDir,
}

impl AzurePeer {
    pub fn new() -> AzurePeer {
        let emu = Emulator::start(EmulatorConfig::fast());
        for name in nsg::NSGS {
            emu.add_nsg(nsg::seeded(name));
        }
        let policy = format!(
            "provider \"azure\" \"prod\" {{\n  subscription_id = \"{SUB}\"\n  mode            = \"nsg\"\n  \
             endpoint        = \"{}\"\n}}\n\n{}",
            emu.base_url(),
            nsg::targets("azure.prod")
        );
        let dir = config_dir(&[("policy.hcl", &policy)]);
        grant::write(dir.path(), "web-1", "ssh", Phase::During);
        AzurePeer {
            emu,
            dir,
            bin: stand_in_az(),
        }
    }

    fn nsgs(&self) -> Vec<Value> {
        let mut nsgs = self.emu.nsgs();
        nsgs.sort_by_key(|n| n["id"].as_str().unwrap_or_default().to_ascii_lowercase());
        nsgs
    }
}

impl Peer for AzurePeer {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn jit(&self, args: &[&str]) -> TestCommand {
        command(self.dir(), self.bin.path(), args)
    }

    fn foreign(&self) -> String {
        nsg::foreign(&self.nsgs())
    }

    fn live(&self) -> String {
        serde_json::to_string_pretty(&self.nsgs()).unwrap()
    }

    fn change_out_of_band(&self) {
        assert!(self.emu.edit_nsg(&nsg_id("a"), nsg::edit_out_of_band));
    }

    fn stop_after(&self, plan: &Path, k: usize) -> Stop {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
        let faults = doc["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .skip(k)
            .map(|c| {
                let nsg = c["scope"].as_str().unwrap().rsplit('/').next().unwrap();
                let rule = crate::plan_doc::rule_name(c);
                let method = if c["change"]["actions"] == serde_json::json!(["delete"]) {
                    "DELETE"
                } else {
                    "PUT"
                };
                let path = format!(
                    "(?i)/networkSecurityGroups/{}/securityRules/{}$",
                    regex::escape(nsg),
                    regex::escape(rule)
                );
                Fault::new(method, &path, Trigger::Always, FaultKind::Status(400))
            })
            .collect();
        self.emu.set_faults(faults);
        Stop::NextApply
    }

    fn clear_stop(&self) {
        self.emu.set_faults(vec![]);
    }

    fn widen(&self, after: &mut Value) {
        nsg::widen(after)
    }

    fn lengthen(&self, after: &mut Value) {
        nsg::lengthen(after)
    }

    fn rename(&self, change: &mut Value, name: &str) {
        nsg::rename(change, name)
    }

    fn resync(&self, doc: &mut Value) {
        crate::plan_doc::resync(doc)
    }
}

/// The real `jit` binary in `dir`, signing in through the stand-in `az` in `bin`.
pub fn command(dir: &Path, bin: &Path, args: &[&str]) -> TestCommand {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths: Vec<PathBuf> = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    TestCommand::new(dir, args)
        .env("PATH", std::env::join_paths(paths).unwrap())
        .env("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
        .env("JIT_ACTOR", "tester")
}

/// A folder holding a stand-in `az` that prints a token the emulator accepts.
pub fn stand_in_az() -> TempDir {
    let bin = tempfile::tempdir().unwrap();
    let az = bin.path().join("az");
    let expires = jiff::Timestamp::now().as_second() + 3600;
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"account get-access-token\" ] || exit 2\n\
             echo '{{\"accessToken\": \"test-token\", \"expires_on\": {expires}, \"tokenType\": \"Bearer\"}}'\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}
