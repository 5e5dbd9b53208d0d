# Approvals that can be proved: an approver counts only through an `approval` block signed
# with a key that approvers/allowed_signers lists for them (docs/approvals.md).

settings {
  approvals_required = 1
  approval_signers   = "approvers/allowed_signers"
}

provider "snapshot" "demo" {
  path = "live/nsgs.json"
}

target "web-1" {
  provider    = "snapshot.demo"
  nsg_id      = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg"
  destination = "10.0.1.4"

  port "ssh" {
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }
}
