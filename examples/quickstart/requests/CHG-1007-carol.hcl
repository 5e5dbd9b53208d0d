# Ended on 2026-11-25 at 11:00 UTC: its rule, if still open, is revoked.
request "CHG-1007-carol" {
  target        = "jump-1"
  ports         = [3389]
  source        = "198.51.100.20/32"
  requester     = "carol@example.com"
  approvers     = ["dave@example.com"]
  justification = "CHG-1007 patch window"
  start         = "2026-11-25T10:00:00Z"
  duration      = "60m"
}
