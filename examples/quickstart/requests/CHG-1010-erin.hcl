# Scheduled: opens on 2026-11-26 at 09:00 UTC, for 90 minutes.
request "CHG-1010-erin" {
  target        = "jump-1"
  ports         = ["rdp"]
  source        = "198.51.100.0/28"
  requester     = "erin@example.com"
  approvers     = ["bob@example.com"]
  justification = "CHG-1010 quarterly restore test"
  start         = "2026-11-26T09:00:00Z"
  duration      = "PT1H30M"
}
