"""Reads of threads: a subject's comments, who may be mentioned there, counts for lists, and
where a comment is read (its deep link)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from service.core.thai import format_baht
from service.org.models import OrgUnit, Role, RoleAssignment, User
from service.org.scope import remember_roles, with_active_roles
from service.projects.models import Project, ProjectParticipant
from service.threads.models import Comment
from service.threads.permissions import can_see_subject, subject_of


def comments_of(session: Session, subject_type: str, subject_id: int) -> list[Comment]:
    """The subject's comments, oldest first, with their authors, files and revisions."""
    return list(
        session.scalars(
            select(Comment)
            .where(Comment.subject_type == subject_type, Comment.subject_id == subject_id)
            .options(
                joinedload(Comment.author),
                selectinload(Comment.attachments),
                selectinload(Comment.revisions),
                selectinload(Comment.withdrawn_by),
            )
            .order_by(Comment.id)
        )
    )


def comment_counts(session: Session, subject_type: str, ids: Iterable[int]) -> dict[int, int]:
    """How many comments (withdrawn ones too: they are part of the conversation) each of the
    subjects `ids` has, in one query; a subject without any is absent."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Comment.subject_id, func.count(Comment.id))
        .where(Comment.subject_type == subject_type, Comment.subject_id.in_(wanted))
        .group_by(Comment.subject_id)
    )
    return {ident: int(count) for ident, count in rows}


def _units_of(subject_type: str, subject: Any) -> list[OrgUnit]:
    """The units whose people may see `subject` by scope (before the exact predicate); a
    project's participating units are matched in SQL (`mentionable`)."""
    if subject_type == "step_result":
        project = subject.step.project
        return [subject.unit, project.responsible_unit, project.owner_unit]
    if subject_type == "installment":
        subject = subject.allocation
        subject_type = "allocation"
    if subject_type == "allocation":
        project = subject.project
        return [subject.recipient_unit, project.responsible_unit, project.owner_unit]
    if subject_type == "evaluation":
        from service.evaluations.permissions import owner_unit

        return [owner_unit(subject)]
    return [subject.responsible_unit, subject.owner_unit]


def mentionable(session: Session, subject_type: str, subject: Any) -> list[User]:
    """The active people who may see `subject`, by name: whoever holds a role at or above one
    of its units (a project's: also above a unit taking part in it), or a tree-wide role, each
    then held to the subject's own predicate. One statement: the people come with their roles,
    which the predicates then read without asking again."""
    ancestors = {ident for unit in _units_of(subject_type, subject) for ident in unit.ancestor_ids}
    reaches = [
        RoleAssignment.unit_id.in_(sorted(ancestors)),
        RoleAssignment.role == Role.EVALUATOR,
        and_(RoleAssignment.role == Role.ADMIN, OrgUnit.parent_id.is_(None)),
    ]
    if subject_type == "project":
        taking_part = aliased(OrgUnit)
        reaches.append(
            exists()
            .where(
                ProjectParticipant.project_id == subject.id,
                taking_part.id == ProjectParticipant.unit_id,
                taking_part.path.startswith(OrgUnit.path),
            )
            .correlate(OrgUnit)
        )
    holders = (
        select(RoleAssignment.user_id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
        .where(RoleAssignment.withdrawn_at.is_(None), or_(*reaches))
    )
    rows = session.execute(
        with_active_roles(
            select(User).where(User.active.is_(True), User.id.in_(holders.scalar_subquery()))
        ).order_by(User.name, User.id)
    ).all()
    people: dict[int, tuple[User, list[Any]]] = {}
    for person, assignment in rows:
        people.setdefault(person.id, (person, []))[1].append(assignment)
    found = []
    for person, assignments in people.values():
        remember_roles(session, person, assignments)
        # A project's holders are chosen above by `visible_projects`' own rule (a role over
        # its responsible or owning unit, over a unit taking part, or tree-wide): asking
        # `sees_project` again would cost a query per school taking part.
        if subject_type == "project" or can_see_subject(session, person, subject_type, subject):
            found.append(person)
    return found


#: Where each kind of work is read, with its thread ("{id}": the subject's id).
PAGES = {
    "step_result": "/results/{id}",
    "project": "/projects/{id}",
    "allocation": "/threads/allocation/{id}",
    "installment": "/threads/installment/{id}",
    "evaluation": "/threads/evaluation/{id}",
}


def comment_link(comment: Comment) -> str:
    """The path of the page showing `comment` in its thread, anchored at the comment."""
    return PAGES[comment.subject_type].format(id=comment.subject_id) + f"#comment-{comment.id}"


@dataclass(frozen=True)
class CommentWords:
    """What a notification of a comment says about it: `words` (author, subject, excerpt and
    the page's `path`), with the project and unit the summary names."""

    words: dict[str, str]
    project: Project | None
    unit: OrgUnit | None


def subject_words(
    session: Session, subject_type: str, subject: Any, lang: str
) -> tuple[str, Project | None, OrgUnit | None]:
    """The subject named in a sentence in `lang` ("th" or "en"), with its project and unit."""
    th = lang != "en"
    if subject_type == "step_result":
        project, unit = subject.step.project, subject.unit
        step = subject.step.name
        text = (
            f"ผลการดำเนินงานขั้นตอน “{step}” ของ{unit.name('th')} โครงการ {project.code}"
            if th
            else f"the result of {unit.name('en')} for step “{step}” of project {project.code}"
        )
        return text, project, unit
    if subject_type in ("allocation", "installment"):
        allocation = subject if subject_type == "allocation" else subject.allocation
        project, unit = allocation.project, allocation.recipient_unit
        amount = format_baht(subject.amount)
        name, code = unit.name(lang), project.code
        if subject_type == "allocation":
            text = (
                f"การจัดสรรงบประมาณ {amount} บาท ให้{unit.name('th')} โครงการ {project.code}"
                if th
                else f"the allocation of {amount} baht to {name} in project {code}"
            )
        else:
            text = (
                f"เงินประจำงวด {amount} บาท ของ{unit.name('th')} โครงการ {project.code}"
                if th
                else f"the installment of {amount} baht for {name} in project {code}"
            )
        return text, project, unit
    if subject_type == "evaluation":
        project = subject.project
        code = project.code if project is not None else (subject.kpi.code if subject.kpi else "")
        year = subject.fiscal_year.be_year
        if project is not None:
            text = (
                f"ผลการประเมินโครงการ {code} ไตรมาสที่ {subject.quarter}/{year}"
                if th
                else f"the evaluation of project {code} for Q{subject.quarter} FY{year}"
            )
        else:
            text = (
                f"ผลการประเมินตัวชี้วัด {code} ไตรมาสที่ {subject.quarter}/{year}"
                if th
                else f"the evaluation of KPI {code} for Q{subject.quarter} FY{year}"
            )
        return text, project, None
    text = f"โครงการ {subject.code}" if th else f"project {subject.code}"
    return text, subject, subject.responsible_unit


def describe_comment(session: Session, comment_id: int, lang: str) -> CommentWords | None:
    """The words a notification of comment `comment_id` needs, in `lang`; None when the
    comment or its subject is gone."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        return None
    subject = subject_of(session, comment.subject_type, comment.subject_id)
    if subject is None:
        return None
    text, project, unit = subject_words(session, comment.subject_type, subject, lang)
    body = " ".join(comment.body.split())
    excerpt = body if len(body) <= 80 else body[:79] + "…"
    return CommentWords(
        words={
            "author": comment.author.name,
            "subject": text,
            "excerpt": excerpt,
            "path": comment_link(comment),
        },
        project=project,
        unit=unit,
    )
