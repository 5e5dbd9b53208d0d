# No security rule that is created or updated may open SSH (port 22) from anywhere.
package main

import rego.v1


deny contains msg if {
	rc := input.resource_changes[_]
	rc.type == "azurerm_network_security_rule"
	after := rc.change.after
	after.protocol in {"Tcp", "*"}
	data.lib.open_from_anywhere(after)
	some range in data.lib.ports(after)
	data.lib.covers(range, 22)
	msg := sprintf("%s opens SSH from anywhere", [rc.address])
}
