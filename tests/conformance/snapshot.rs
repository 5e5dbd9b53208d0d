//! The snapshot provider as a conformance peer: live state is `live/nsgs.json` in the config
//! dir. Its apply writes the file once, atomically, so a crash can only fall between applies;
//! "stopped after k writes" is modelled by applying, through the library, only the first `k`
//! changes of the saved plan — the state a provider writing change by change would leave.

use std::path::Path;

use serde_json::{json, Value};
use tempfile::TempDir;

use jit::providers::snapshot::SnapshotProvider;

use crate::grant::{self, Phase};
use crate::nsg;
use crate::peer::{apply_through, Peer, Stop};
use crate::support::{config_dir, TestCommand};

const LIVE: &str = "live/nsgs.json";

pub struct SnapshotPeer {
    dir: TempDir,
}

impl SnapshotPeer {
    pub fn new() -> SnapshotPeer {
        let policy = format!(
            "provider \"snapshot\" \"lab\" {{\n  path = \"{LIVE}\"\n}}\n\n{}",
            nsg::targets("snapshot.lab")
        );
        let nsgs: Vec<Value> = nsg::NSGS.iter().map(|n| nsg::seeded(n)).collect();
        let live = serde_json::to_string_pretty(&json!({ "value": nsgs })).unwrap() + "\n";
        let dir = config_dir(&[("policy.hcl", &policy), (LIVE, &live)]);
        grant::write(dir.path(), "web-1", "ssh", Phase::During);
        SnapshotPeer { dir }
    }

    fn nsgs(&self) -> Vec<Value> {
        let doc: Value = serde_json::from_str(&self.live()).unwrap();
        doc["value"].as_array().unwrap().clone()
    }
}

impl Peer for SnapshotPeer {
    fn name(&self) -> &'static str {
        "snapshot"
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn jit(&self, args: &[&str]) -> TestCommand {
        TestCommand::new(self.dir(), args).env("JIT_ACTOR", "tester")
    }

    fn foreign(&self) -> String {
        nsg::foreign(&self.nsgs())
    }

    fn live(&self) -> String {
        std::fs::read_to_string(self.dir().join(LIVE)).unwrap()
    }

    fn change_out_of_band(&self) {
        let mut doc: Value = serde_json::from_str(&self.live()).unwrap();
        let a = doc["value"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|n| n["name"] == "a")
            .unwrap();
        nsg::edit_out_of_band(a);
        // Another tool writing through ARM would give the NSG a new etag.
        if a.get("etag").is_some() {
            a["etag"] = json!("W/\"out-of-band\"");
        }
        let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
        std::fs::write(self.dir().join(LIVE), text).unwrap();
    }

    fn stop_after(&self, plan: &Path, k: usize) -> Stop {
        let (plan, _) = jit::ops::planfile::read(plan).expect("the saved plan reads");
        let provider = SnapshotProvider::new("snapshot.lab", self.dir().join(LIVE));
        apply_through(&provider, &plan, &plan.resource_changes[..k]);
        Stop::Done
    }

    fn clear_stop(&self) {}

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
