"""One engine applies every workflow; each workflow is a table of transitions (data)."""
