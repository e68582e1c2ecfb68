"""Personal calendar feeds (RFC 5545): each person's deadlines and decisions, computed from the
data as it stands, at a private URL with a revocable token."""
