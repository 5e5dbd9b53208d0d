# Quickstart policy: two machines behind their own NSGs, read from a local snapshot of the NSGs
# (an export of `az network nsg list -o json` works the same way).

settings {
  rule_prefix           = "jit"
  allow_priority        = [100, 199]   # temporary allow rules
  deny_priority         = [4000, 4095] # lock-down deny rules
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}

provider "snapshot" "demo" {
  path = "live/nsgs.json"
}

# A Linux web server: SSH from the office and the VPN range only.
target "web-1" {
  provider    = "snapshot.demo"
  nsg_id      = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg"
  destination = "10.0.1.4"

  port "ssh" {
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24", "2001:db8::/48"]
    max_duration    = "3h"
  }
}

# A Windows jump host: RDP from the office only, never longer than 90 minutes.
target "jump-1" {
  provider    = "snapshot.demo"
  nsg_id      = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg1"
  destination = "10.0.2.5"

  port "rdp" {
    number          = 3389
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "PT90M"
  }
}
