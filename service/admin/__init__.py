"""Administration screens: org units, users and roles, delegations, fiscal years, the strategy
tree, reminder rules and API tokens."""
