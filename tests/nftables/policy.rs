//! From HCL to the kernel: a policy and a request loaded by jit's own loader, turned into the
//! table at the real clock, applied in "server"; the request's window closes in the kernel.

use std::time::Duration;

use jiff::Timestamp;
use jit::lang::{load, SourceFile};
use jit::providers::nftables;

use super::lab::{Lab, CLIENT4, CLIENT6, OTHER4};

#[test]
fn a_request_ending_seconds_after_apply_is_closed_by_the_kernel() {
    let Some(lab) = Lab::new("policy") else {
        return;
    };
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
    // A five-minute window that ends four seconds from now.
    let start = now - jiff::SignedDuration::from_secs(5 * 60 - 4);
    let text = format!(
        r#"
provider "nftables" "host" {{
  table = "jit"
}}

target "bastion" {{
  provider = "nftables.host"
  port "ssh" {{
    number          = 22
    allowed_sources = ["192.0.2.0/24", "2001:db8::/32"]
    max_duration    = "1h"
  }}
}}

request "INC-7-alice" {{
  target        = "bastion"
  ports         = ["ssh"]
  source        = "{CLIENT4}/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-7 bastion"
  start         = "{start}"
  duration      = "5m"
}}
"#
    );
    let policy = load(&[SourceFile {
        path: "policy.hcl".into(),
        text,
    }])
    .expect("a valid policy");
    let spec = nftables::policy::table_spec(&policy, "nftables.host", "jit", Timestamp::now());
    assert_eq!(spec.grants.len(), 1);
    assert!(spec.grants[0].timeout <= 4);
    nftables::apply(&lab.nft(), &spec).unwrap();
    assert!(lab.connect(CLIENT4).is_some());
    assert!(lab.connect(OTHER4).is_none());
    assert!(lab.connect(CLIENT6).is_none(), "nothing granted over IPv6");
    let live = nftables::read(&lab.nft(), "jit").unwrap().unwrap();
    assert_eq!(live.elements[0].comment.as_deref(), Some("INC-7-alice"));
    let open = nftables::status::open_grants(&live);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].request.as_deref(), Some("INC-7-alice"));
    assert!(
        open[0].seconds_left.is_some_and(|s| s <= 4),
        "the kernel's remaining time: {open:?}"
    );

    let end = start + jiff::SignedDuration::from_secs(5 * 60);
    let wait = (end - Timestamp::now()).as_secs_f64().max(0.0) + 0.2;
    std::thread::sleep(Duration::from_secs_f64(wait));
    assert!(
        lab.connect(CLIENT4).is_none(),
        "closed at the request's end"
    );
}
