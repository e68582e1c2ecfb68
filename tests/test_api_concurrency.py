"""Races on PostgreSQL: many API requests at once, or two of the worker's sweeps, each in a thread
of its own with its own connection, on a committed database of this module's own (created,
migrated and loaded here, dropped at the end), so they really meet in the database."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import create_app
from service.api.auth import new_token
from service.audit.models import AuditEntry
from service.budget.models import Allocation, AllocationState, Approval
from service.budget.operations import tell_undecidable
from service.cli import alembic_config
from service.core.db import db
from service.demo.load import load_demo
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User
from service.projects.models import Project, ProjectState
from tests.conftest import app_environment, create_database, drop_database, on_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not on_postgres(),
        reason="SQLite serialises every writer (BEGIN IMMEDIATE): races need PostgreSQL "
        "(set TEST_DATABASE_URL)",
    ),
]


@pytest.fixture(scope="module")
def race_app(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app of its own on a database of its own, with the demo loaded and committed."""
    instance = tmp_path_factory.mktemp("race")
    url = create_database(Path(instance), "apirace")
    saved = dict(os.environ)
    os.environ.update(app_environment(Path(instance), url))
    try:
        racing = create_app({"TESTING": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    # The session factory is shared by every app in this process; an earlier test may have
    # left it joined to a connection of its own (and conftest's teardown names a mode
    # SQLAlchemy 2.1 no longer has): point it at this app's engine, the default way.
    db.sessionmaker.configure(
        bind=racing.extensions["tidtam.db"], join_transaction_mode="conditional_savepoint"
    )
    try:
        with racing.app_context():
            command.upgrade(alembic_config(url), "head")
            load_demo(db.session)
            db.session.commit()
            db.session.remove()
        yield racing
    finally:
        racing.extensions["tidtam.db"].dispose()
        # The session factory is shared by every app in this process: give it back.
        db.sessionmaker.configure(bind=app.extensions["tidtam.db"])
        drop_database(url)


def _project(session: Session, budget: str, state: ProjectState) -> Project:
    """A project of the demo district's education division in `state`. Flushed."""
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2566)).one()
    count = session.scalar(select(func.count()).select_from(Project)) or 0
    project = Project(
        code=f"50230000-R{count}",
        name="race",
        fiscal_year=year,
        owner_unit=units["50230000"],
        responsible_unit=units["50230700"],
        kind="routine",
        approved_budget=Decimal(budget),
        state=state,
    )
    session.add(project)
    session.flush()
    return project


def _setup(app: Flask, budget: str, amounts: list[str]) -> tuple[list[int], str]:
    """A locked project of `budget` with submitted allocations of `amounts`, and a token of
    the approver. Committed."""
    with app.app_context():
        session = db.session()
        units = {u.code: u for u in session.scalars(select(OrgUnit))}
        project = _project(session, budget, ProjectState.LOCKED)
        allocations = [
            Allocation(
                project=project,
                recipient_unit=units["50230771"],
                amount=Decimal(amount),
                state=AllocationState.SUBMITTED,
            )
            for amount in amounts
        ]
        session.add_all(allocations)
        approver = session.scalars(
            select(User).where(User.email == "approver@demo.tidtam.local")
        ).one()
        _row, token = new_token(session, approver, "race")
        session.commit()
        ids = [a.id for a in allocations]
        db.session.remove()
    return ids, token


def _race(
    app: Flask,
    paths: list[str],
    token: str,
    method: str = "POST",
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Send every path at once (POST of an empty body, unless told otherwise), one thread
    and one client each, released together."""
    barrier = threading.Barrier(len(paths))
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def post(path: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.open(
            path,
            method=method,
            json=body or {},
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )
        with lock:
            answers.append((response.status_code, response.get_json(force=True)))

    threads = [threading.Thread(target=post, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == len(paths)
    return answers


def test_twenty_approvals_of_one_allocation_one_wins_and_one_audit_row(race_app: Flask) -> None:
    (allocation_id,), token = _setup(race_app, "100000.00", ["40000.00"])
    path = f"/api/v1/allocations/{allocation_id}/transitions/approve"
    answers = _race(race_app, [path] * 20, token)
    statuses = Counter(status for status, _body in answers)
    assert statuses == Counter({200: 1, 409: 19}), answers
    assert all(body["state"] == "approved" for status, body in answers if status == 409)
    with race_app.app_context():
        session = db.session()
        audit = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "allocation.approve", AuditEntry.object_id == allocation_id)
        )
        approvals = session.scalar(
            select(func.count())
            .select_from(Approval)
            .where(Approval.subject_type == "allocation", Approval.subject_id == allocation_id)
        )
        db.session.remove()
    assert (audit, approvals) == (1, 1)


def test_concurrent_approvals_of_one_project_never_exceed_its_budget(race_app: Flask) -> None:
    ids, token = _setup(race_app, "100000.00", ["30000.00"] * 10)
    paths = [f"/api/v1/allocations/{ident}/transitions/approve" for ident in ids]
    answers = _race(race_app, paths, token)
    statuses = Counter(status for status, _body in answers)
    assert statuses == Counter({200: 3, 422: 7}), answers
    refused = [body for status, body in answers if status == 422]
    # Each refusal names what is left (in Thai, the API's default language).
    assert all("เกินยอดคงเหลือ 10,000.00 บาท" in body["detail"] for body in refused)
    with race_app.app_context():
        session = db.session()
        approved = session.scalar(
            select(func.sum(Allocation.amount)).where(
                Allocation.id.in_(ids), Allocation.state == AllocationState.APPROVED
            )
        )
        db.session.remove()
    assert approved == Decimal("90000.00")


def test_two_edits_from_one_version_one_wins_and_the_other_is_told_who(race_app: Flask) -> None:
    """Two clients edit the same draft from the same version at once: one is written, the
    other refused (409, naming who changed it), never a server error or both written."""
    with race_app.app_context():
        session = db.session()
        officer = session.scalars(
            select(User).where(User.email == "officer@demo.tidtam.local")
        ).one()
        project = _project(session, "100000.00", ProjectState.DRAFT)
        ident, version, name = project.id, project.version, officer.name
        _row, token = new_token(session, officer, "edit race")
        session.commit()
        db.session.remove()
    answers = _race(
        race_app,
        [f"/api/v1/projects/{ident}"] * 2,
        token,
        method="PATCH",
        body={"contact_phone": "02 123 4567"},
        headers={"If-Match": str(version)},
    )
    statuses = Counter(status for status, _body in answers)
    assert statuses == Counter({200: 1, 409: 1}), answers
    refused = next(body for status, body in answers if status == 409)
    assert name in refused["detail"] and refused["state"] == "draft", refused


def test_two_sweeps_at_once_tell_an_item_nobody_may_approve_once(race_app: Flask) -> None:
    """The hourly sweep for stuck money runs twice at once (one outlasting the hour, or one
    started by hand): the second, reading while the first has told but not committed, must
    not tell the same item again."""
    with race_app.app_context():
        tell_undecidable(db.session())  # whatever the demo leaves stuck, told already
        db.session.commit()
        db.session.remove()
    (allocation_id,), _token = _setup(race_app, "1000000.00", ["56000.00"])
    with race_app.app_context():
        session = db.session()
        # Above the officer's limit only the approver decides, and she prepared it herself.
        session.get_one(Allocation, allocation_id).created_by_id = session.scalars(
            select(User.id).where(User.email == "approver@demo.tidtam.local")
        ).one()
        session.commit()
        db.session.remove()
    first_told, second_done = threading.Event(), threading.Event()
    told: dict[str, int] = {}

    def first() -> None:
        with race_app.app_context():
            told["first"] = tell_undecidable(db.session())
            first_told.set()
            second_done.wait(timeout=3)  # the second reads now, if nothing holds it back
            db.session.commit()
            db.session.remove()

    def second() -> None:
        first_told.wait(timeout=60)
        with race_app.app_context():
            told["second"] = tell_undecidable(db.session())
            db.session.commit()
            db.session.remove()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert told == {"first": 1, "second": 0}
    with race_app.app_context():
        entries = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "allocation.undecidable",
                AuditEntry.object_id == allocation_id,
            )
        )
        db.session.remove()
    assert entries == 1


def test_two_admins_withdrawing_each_others_admin_role_at_once_leave_one(
    race_app: Flask,
) -> None:
    """The only two admins of the whole tree withdraw each other's admin role at the same
    moment: each saw the other's still standing and both went, and nobody could administer
    the system any more. The second now waits for the first to commit and is refused."""
    from service.admin import operations as admin_ops
    from service.org.models import Role, RoleAssignment
    from service.org.operations import create_user, grant_role
    from service.workflow.engine import Refused

    with race_app.app_context():
        session = db.session()
        root = session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).first()
        assert root is not None
        other = create_user(
            session,
            email="second-admin@demo.tidtam.local",
            name="ผู้ดูแลคนที่สอง",
            password="a-long-enough-password-2569",
        )
        grant_role(session, other, Role.ADMIN, root)
        session.commit()
        admins = {
            a.user.email: a.id
            for a in session.scalars(
                select(RoleAssignment).where(
                    RoleAssignment.role == Role.ADMIN,
                    RoleAssignment.unit_id == root.id,
                    RoleAssignment.withdrawn_at.is_(None),
                )
            )
        }
        db.session.remove()
    assert set(admins) == {"admin@demo.tidtam.local", "second-admin@demo.tidtam.local"}
    first_done, second_done = threading.Event(), threading.Event()
    answers: dict[str, Any] = {}

    def withdraw(by: str, of: str) -> None:
        with race_app.test_request_context():
            session = db.session()
            actor = session.scalars(select(User).where(User.email == by)).one()
            try:
                admin_ops.withdraw_role(session, actor, session.get_one(RoleAssignment, admins[of]))
                answers[by] = "withdrawn"
            except Refused as refused:
                answers[by] = refused.status
            if by == "admin@demo.tidtam.local":
                first_done.set()
                second_done.wait(timeout=3)  # the second reads now, if nothing holds it back
            session.commit()
            db.session.remove()
        if by != "admin@demo.tidtam.local":
            second_done.set()

    def second() -> None:
        first_done.wait(timeout=60)
        withdraw("second-admin@demo.tidtam.local", "admin@demo.tidtam.local")

    threads = [
        threading.Thread(
            target=withdraw, args=("admin@demo.tidtam.local", "second-admin@demo.tidtam.local")
        ),
        threading.Thread(target=second),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == {
        "admin@demo.tidtam.local": "withdrawn",
        "second-admin@demo.tidtam.local": 409,
    }
    with race_app.app_context():
        session = db.session()
        standing = session.get_one(RoleAssignment, admins["admin@demo.tidtam.local"])
        assert standing.withdrawn_at is None
        db.session.remove()
