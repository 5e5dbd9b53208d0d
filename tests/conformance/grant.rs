//! The grant every peer's policy holds, in `requests/grant.hcl`: active when a peer is made
//! (the machine's clock inside it, since a live apply runs at the machine's clock), moved past
//! its end to test revocation.

use std::path::Path;

/// Where the machine's clock is relative to the grant (it lasts 2h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    During,
    After,
}

const FILE: &str = "requests/grant.hcl";

/// Writes the request `INC-1-alice` for `port` of `target`, from 198.51.100.7/32, in `phase`.
pub fn write(dir: &Path, target: &str, port: &str, phase: Phase) {
    let start_mins = match phase {
        Phase::During => -30,
        Phase::After => -180,
    };
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let start = now + jiff::SignedDuration::from_mins(start_mins);
    let text = format!(
        r#"request "INC-1-alice" {{
  target        = "{target}"
  ports         = ["{port}"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 investigate"
  start         = "{start}"
  duration      = "2h"
}}
"#
    );
    let path = dir.join(FILE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Moves the grant in `dir` so that it ended an hour ago.
pub fn expire(dir: &Path) {
    let text = std::fs::read_to_string(dir.join(FILE)).unwrap();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
            .unwrap_or_else(|| panic!("{FILE} lacks `{key}`"))
    };
    let target = field("target");
    let port = field("ports");
    let port = port.trim_matches(|c| c == '[' || c == ']' || c == '"');
    write(dir, &target, port, Phase::After);
}
