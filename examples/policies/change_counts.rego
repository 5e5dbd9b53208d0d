# Counts the security rule changes by action, and refuses a plan that deletes more than
# `max_deletes` rules at once.
package main

import rego.v1

max_deletes := 50

changes_by_action[action] := n if {
	some action in {"create", "update", "delete"}
	n := count([rc |
		rc := input.resource_changes[_]
		rc.type == "azurerm_network_security_rule"
		action in rc.change.actions
	])
}

deny contains msg if {
	changes_by_action.delete > max_deletes
	msg := sprintf("the plan deletes %d security rules (at most %d)", [changes_by_action.delete, max_deletes])
}
