# One Linux bastion guarded by nftables: SSH closed to new connections except from granted
# sources. jit owns the table `inet jit` on the host and nothing else.
provider "nftables" "bastion" {
  table = "jit"
}

target "bastion" {
  provider = "nftables.bastion"

  port "ssh" {
    number          = 22
    allowed_sources = ["192.0.2.0/24", "2001:db8::/32"]
    max_duration    = "4h"
  }
}
