"""The school's screens: its steps to report, one result form with evidence, its money."""
