# The same rule over the state after apply: no security rule, changed or not, opens SSH from
# anywhere.
package main

import rego.v1


deny contains msg if {
	resource := input.planned_values.root_module.resources[_]
	resource.type == "azurerm_network_security_rule"
	rule := resource.values
	rule.protocol in {"Tcp", "*"}
	data.lib.open_from_anywhere(rule)
	some range in data.lib.ports(rule)
	data.lib.covers(range, 22)
	msg := sprintf("%s would open SSH from anywhere", [resource.address])
}
