# Active on 2026-11-25 from 14:00 to 16:00 UTC; bob's approval below was made with
# `jit approve INC-4211-alice --by bob@example.com`.
request "INC-4211-alice" {
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  justification = "INC-4211 investigate failed deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}

approval "INC-4211-alice" {
  by        = "bob@example.com"
  signature = <<-EOT
    -----BEGIN SSH SIGNATURE-----
    U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgplfsZiPedGnOe/ntQLqtJKvKcs
    tP8j+eA1rFiloBmCsAAAAMaml0LWFwcHJvdmFsAAAAAAAAAAZzaGE1MTIAAABTAAAAC3Nz
    aC1lZDI1NTE5AAAAQAFLZD70nwH0rK+5AMliUU5QSIoD0fX/e4a6OIEL1Kp8d2vWOL6pE+
    ni1lIO9kH+NocXMLGEmR6iK23QdGdr5w0=
    -----END SSH SIGNATURE-----
  EOT
}
