"""The district dashboard: a unit's projects for a fiscal year against their plan."""

from service.org.models import Role

#: Who works from the dashboard; schools have their own home.
DASHBOARD_ROLES = frozenset({Role.OFFICER, Role.APPROVER, Role.EVALUATOR, Role.ADMIN})
