"""The district officer's review queue of submitted step results."""
