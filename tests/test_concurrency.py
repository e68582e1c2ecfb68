"""Two people clicking at once, for real: threads with their own connections on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.budget.models import Allocation, AllocationState
from service.cli import alembic_config
from service.core.db import make_engine
from service.demo.load import load_demo
from service.org.models import OrgUnit, User
from service.projects.models import Project
from service.workflow.engine import Refused, take
from tests.conftest import create_database, drop_database, on_postgres

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="row locks under real concurrency are tested on PostgreSQL"
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = create_database(tmp_path_factory.mktemp("concurrency"), "concurrency")
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url, pool_size=25, max_overflow=5)
    with Session(engine) as session:
        load_demo(session)
        session.commit()
    yield engine
    engine.dispose()
    drop_database(url)


def _setup(engine: Engine, amounts: list[str], budget: str) -> list[int]:
    with Session(engine) as session:
        project = session.scalars(select(Project)).one()
        project.approved_budget = Decimal(budget)
        network = session.scalars(select(OrgUnit).where(OrgUnit.code == "50230771")).one()
        ids = []
        for amount in amounts:
            allocation = Allocation(
                project=project,
                recipient_unit=network,
                amount=Decimal(amount),
                state=AllocationState.SUBMITTED,
            )
            session.add(allocation)
            session.flush()
            ids.append(allocation.id)
        session.commit()
        return ids


def _race(engine: Engine, allocation_ids: list[int]) -> Counter[int]:
    outcomes: Counter[int] = Counter()
    barrier = threading.Barrier(len(allocation_ids))
    lock = threading.Lock()

    def approve(allocation_id: int) -> None:
        with Session(engine) as session:
            officer = session.scalars(
                select(User).where(User.email == "officer@demo.tidtam.local")
            ).one()
            barrier.wait()
            try:
                take(session, officer, "allocation", allocation_id, "approve")
                session.commit()
                status = 200
            except Refused as refused:
                session.rollback()
                status = refused.status
        with lock:
            outcomes[status] += 1

    threads = [threading.Thread(target=approve, args=(i,)) for i in allocation_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_approvals_of_one_allocation_one_wins(engine: Engine) -> None:
    (allocation_id,) = _setup(engine, ["10000.00"], budget="1000000.00")
    outcomes = _race(engine, [allocation_id] * 20)
    assert outcomes == Counter({200: 1, 409: 19})
    with Session(engine) as session:
        audits = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.object_type == "allocation",
                AuditEntry.object_id == allocation_id,
                AuditEntry.action == "allocation.approve",
            )
        )
        assert audits == 1


def test_concurrent_approvals_never_exceed_the_budget(engine: Engine) -> None:
    with Session(engine) as session:
        spent = session.scalar(
            select(func.coalesce(func.sum(Allocation.amount), 0)).where(
                Allocation.state.in_(("approved", "disbursing", "completed"))
            )
        )
    budget = Decimal(spent) + Decimal("100000.00")
    ids = _setup(engine, ["20000.00"] * 10, budget=str(budget))
    outcomes = _race(engine, ids)
    assert outcomes == Counter({200: 5, 422: 5})
    with Session(engine) as session:
        approved = session.scalar(
            select(func.sum(Allocation.amount)).where(
                Allocation.state.in_(("approved", "disbursing", "completed"))
            )
        )
        assert approved == budget
