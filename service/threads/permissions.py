"""Who sees a thread, writes in it and may be mentioned in it: exactly those who may see the
work it hangs under, by the same predicate the work's pages and API use (the workflow table's
`visible`: `can_see_result`, `can_see_allocation`, `can_see_installment`,
`can_see_evaluation`, `can_see_project`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.core.permissions import ALLOW, Answer, deny
from service.core.translate import gettext as _
from service.org.models import User
from service.threads.models import SUBJECT_TYPES, Comment


def subject_of(session: Session, subject_type: str, subject_id: int) -> Any | None:
    """The step result, allocation, installment, evaluation or project a thread hangs under;
    None when there is none (or `subject_type` is not a kind of work with a thread)."""
    if subject_type not in SUBJECT_TYPES:
        return None
    from service.workflow.engine import load_workflows

    return session.get(load_workflows()[subject_type].model, subject_id)


def can_see_subject(session: Session, user: User, subject_type: str, subject: Any) -> bool:
    """Whether `user` sees the work `subject` (of `subject_type`), hence its thread."""
    from service.workflow.engine import load_workflows

    if not user.active:
        return False
    return bool(load_workflows()[subject_type].visible(session, user, subject))


def may_change_comment(user: User, comment: Comment) -> Answer:
    """Only the author edits or withdraws a comment, and only while it stands."""
    if comment.author_id != user.id:
        return deny(_("only its author may change a comment"))
    if comment.withdrawn_at is not None:
        return deny(_("the comment is withdrawn"))
    return ALLOW
