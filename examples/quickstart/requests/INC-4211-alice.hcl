# Active on 2026-11-25 from 14:00 to 16:00 UTC.
request "INC-4211-alice" {
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-4211 investigate failed deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}
