//! The policy the nftables platform's unit tests plan: one target, alice's grant of ssh from
//! 192.0.2.7/32, 14:00 to 15:00 on 2026-11-25.

use crate::lang::{load, SourceFile};
use crate::model::Policy;

pub const POLICY: &str = r#"
provider "nftables" "host" {
  table = "jit"
}

target "bastion" {
  provider = "nftables.host"
  port "ssh" {
    number          = 22
    allowed_sources = ["192.0.2.0/24"]
    max_duration    = "1h"
  }
}

request "INC-1-alice" {
  target        = "bastion"
  ports         = ["ssh"]
  source        = "192.0.2.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 look at the bastion"
  start         = "2026-11-25T14:00:00Z"
  duration      = "1h"
}
"#;

pub fn policy() -> Policy {
    load(&[SourceFile {
        path: "policy.hcl".into(),
        text: POLICY.to_string(),
    }])
    .expect("valid")
}
