"""Every model, imported once so the metadata is complete (Alembic and tests read it)."""

from service.audit.models import AuditEntry, OutboxEvent
from service.auth.models import ApiToken
from service.budget.models import Allocation, Approval, Installment
from service.calendar.models import CalendarFeed
from service.core.db import Base
from service.evaluations.models import Evaluation, EvaluationRevision
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, KpiEvidenceFile, KpiQuarterResult
from service.notifications.models import (
    LineAccount,
    LineGroup,
    LineLinkCode,
    Notification,
    NotificationPreference,
    ReminderRule,
    WebhookEndpoint,
)
from service.ops.models import WorkerHeartbeat
from service.org.models import Delegation, OrgUnit, RoleAssignment, User
from service.projects.models import (
    EvidenceFile,
    PlanStep,
    ProgressReport,
    Project,
    ProjectObjective,
    ProjectTarget,
    StepResult,
)
from service.rollups.models import ProjectRollup, StrategyRollup, UnitRollup
from service.strategy.models import StrategyNode
from service.threads.models import Comment, CommentAttachment, CommentMention, CommentRevision

__all__ = [
    "Allocation",
    "ApiToken",
    "Approval",
    "AuditEntry",
    "Base",
    "CalendarFeed",
    "Comment",
    "CommentAttachment",
    "CommentMention",
    "CommentRevision",
    "Delegation",
    "Evaluation",
    "EvaluationRevision",
    "EvidenceFile",
    "FiscalYear",
    "Installment",
    "Kpi",
    "KpiEvidenceFile",
    "KpiQuarterResult",
    "LineAccount",
    "LineGroup",
    "LineLinkCode",
    "Notification",
    "NotificationPreference",
    "OrgUnit",
    "OutboxEvent",
    "PlanStep",
    "ProgressReport",
    "Project",
    "ProjectObjective",
    "ProjectRollup",
    "ProjectTarget",
    "ReminderRule",
    "RoleAssignment",
    "StepResult",
    "StrategyNode",
    "StrategyRollup",
    "UnitRollup",
    "User",
    "WebhookEndpoint",
    "WorkerHeartbeat",
]
