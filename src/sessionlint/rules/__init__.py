"""One module per rule, named after the rule. The registry lists them explicitly."""
