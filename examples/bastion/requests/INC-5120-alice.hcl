# Active on 2026-11-25 from 14:00 to 16:00 UTC: the kernel closes it at 16:00.
request "INC-5120-alice" {
  target        = "bastion"
  ports         = ["ssh"]
  source        = "192.0.2.10/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-5120 disk full on the bastion"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}
