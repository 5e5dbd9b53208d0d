//! The config the tests and the bench give the real `jit` binary in the lab: the policy of a
//! bastion whose ssh is guarded (sources from the lab's ranges), and request files.

use jiff::Timestamp;

pub const POLICY: &str = r#"provider "nftables" "host" {
  table = "jit"
}

target "bastion" {
  provider = "nftables.host"
  port "ssh" {
    number          = 22
    allowed_sources = ["192.0.2.0/24", "2001:db8::/32"]
    max_duration    = "1h"
  }
}
"#;

/// A request for ssh on the bastion from `source`, from `start` for `duration`.
pub fn request(id: &str, source: &str, start: Timestamp, duration: &str) -> String {
    format!(
        r#"request "{id}" {{
  target        = "bastion"
  ports         = ["ssh"]
  source        = "{source}"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "{id} look at the bastion"
  start         = "{start}"
  duration      = "{duration}"
}}
"#
    )
}

/// Now, in whole seconds (request times are written that way).
pub fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
}
