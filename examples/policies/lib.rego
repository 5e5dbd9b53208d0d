# Helpers for the policies beside this file: the source prefixes and destination port ranges of
# an azurerm_network_security_rule, read the way Terraform writes them (one value in the
# singular attribute, several in the plural one, the other null).
package lib

import rego.v1

# Source prefixes that mean "from anywhere".
anywhere := {"*", "0.0.0.0/0", "::/0", "Internet", "Any"}

sources(rule) := {p | p := rule.source_address_prefixes[_]} | {p | p := rule.source_address_prefix; p != null}

ports(rule) := {p | p := rule.destination_port_ranges[_]} | {p | p := rule.destination_port_range; p != null}

# Whether a port range ("*", "22", "20-25") covers `port`.
covers(range, _) if range == "*"

covers(range, port) if {
	not contains(range, "-")
	range != "*"
	to_number(range) == port
}

covers(range, port) if {
	bounds := split(range, "-")
	count(bounds) == 2
	to_number(bounds[0]) <= port
	port <= to_number(bounds[1])
}

open_from_anywhere(rule) if {
	rule.access == "Allow"
	rule.direction == "Inbound"
	some source in sources(rule)
	source in anywhere
}
