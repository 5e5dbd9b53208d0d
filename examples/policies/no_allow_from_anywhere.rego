# No security rule that is created or updated may allow inbound traffic from anywhere.
#
#     conftest test --policy examples/policies plan.json
package main

import rego.v1


deny contains msg if {
	rc := input.resource_changes[_]
	rc.type == "azurerm_network_security_rule"
	rc.mode == "managed"
	after := rc.change.after
	data.lib.open_from_anywhere(after)
	msg := sprintf("%s allows inbound traffic from anywhere (%v)", [rc.address, data.lib.sources(after)])
}
