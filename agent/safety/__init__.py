"""The safety gate: the policy protocol, domain and action rules, confirmations, and secrets."""
