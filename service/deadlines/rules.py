"""The reminder rules a new installation starts with; admins edit them afterwards."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.notifications.models import ReminderKind, ReminderRule

#: pg_advisory_xact_lock key serialising the seeding of default rules.
DEFAULTS_LOCK = 2_566_0001

# (kind, name, offset_days, repeat_days, escalate_after_days)
DEFAULT_RULES: tuple[tuple[ReminderKind, str, int, int | None, int | None], ...] = (
    (ReminderKind.STEP_DUE, "ขั้นตอนใกล้ครบกำหนด (3 วันก่อน)", -3, None, None),
    (ReminderKind.STEP_OVERDUE, "ขั้นตอนเลยกำหนด (ทุก 7 วัน, แจ้งหัวหน้าหลัง 14 วัน)", 1, 7, 14),
    (ReminderKind.REVIEW_WAITING, "ผลรอตรวจสอบเกิน 3 วัน", 3, 3, 7),
    (ReminderKind.INSTALLMENT_WAITING, "เงินประจำงวดรออนุมัติเกิน 5 วัน", 5, 5, 10),
    (ReminderKind.REPORT_MISSING, "ยังไม่รายงานผลประจำเดือน (5 วันหลังสิ้นเดือน)", 5, 7, 15),
    (ReminderKind.EVALUATION_SELF, "ยังไม่ประเมินตนเอง (7 วันหลังสิ้นไตรมาส)", 7, 7, 14),
    (ReminderKind.EVALUATION_SCORE, "ยังไม่ให้คะแนน (30 วันหลังสิ้นไตรมาส)", 30, 7, 45),
)


def ensure_default_rules(session: Session, *, only_when_empty: bool = False) -> list[ReminderRule]:
    """Add the default rule of every kind that has no rule yet (an admin's edits and
    deactivations stay); with `only_when_empty`, only into a table without any rule (what
    the engine does on a fresh installation). Returns the rules added. Flushes only."""
    if session.get_bind().dialect.name == "postgresql":
        # Two first runs at once must not both find the table empty (SQLite transactions
        # take the write lock as they begin, which serialises them already).
        session.execute(select(func.pg_advisory_xact_lock(DEFAULTS_LOCK)))
    present = set(session.scalars(select(ReminderRule.kind)))
    if only_when_empty and present:
        return []
    added = []
    for kind, name, offset, repeat, escalate in DEFAULT_RULES:
        if kind in present:
            continue
        rule = ReminderRule(
            kind=kind,
            name=name,
            offset_days=offset,
            repeat_days=repeat,
            escalate_after_days=escalate,
            active=True,
        )
        session.add(rule)
        added.append(rule)
    session.flush()
    return added
