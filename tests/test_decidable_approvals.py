"""Every allocation or transfer waiting above the officer's limit can still be decided.

On the demo the approver was offered "เห็นชอบ (ระดับต้น)" on a 56,000-baht allocation over the
50,000 limit (two approvals required). Once she endorsed, four eyes barred her from approving,
the officer and the deputy are not approvers, and nobody could ever approve: only return and
reject were left. The same when the deputy endorsed acting for her (#37, 92,000).

The rule now (service.budget.permissions.may_endorse): the endorsement levels are the
officers', each with their own authority; an approver, or a deputy acting for one, approves and
never endorses. These tests walk the demo's people over every order of endorsements they may
give and show that, in every state reached, someone may still endorse or approve, and that
an approval is always reachable.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    BudgetTransfer,
    TransferState,
)
from service.budget.operations import create_allocation
from service.core.fiscal import local_today
from service.org.models import Role, User
from service.org.operations import create_delegation
from service.workflow.engine import Option, Refused, options, take
from tests.project_data import make_user
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    sibling_project,
    unit,
    user,
)

#: (who, acting for whom): the demo's people as the tester signed in.
PEOPLE = (
    ("officer", None),
    ("deputy", None),
    ("deputy", "approver"),
    ("approver", None),
)


def _people(session: Session) -> dict[str, User]:
    """The demo's officer and approver, and a deputy: an officer of the division who acts
    for the approver while she is away (as on demo.tidtam.local)."""
    officer, approver = user(session, "officer"), user(session, "approver")
    deputy, _password = make_user(
        session, Role.OFFICER, unit(session, "50230700"), "deputy-f3@demo.tidtam.local"
    )
    today = local_today()
    create_delegation(session, approver, approver, deputy, today, today + timedelta(days=30))
    return {"officer": officer, "approver": approver, "deputy": deputy}


def _submitted(session: Session, officer: User, amount: str) -> Allocation:
    """An allocation the officer prepared and submitted, as on the demo."""
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal(amount)
    )
    take(session, officer, "allocation", allocation.id, "submit")
    return allocation


def _choices(
    session: Session, people: dict[str, User], obj: object
) -> dict[tuple[str, str | None], dict[str, Option]]:
    found = {}
    for who, acting in PEOPLE:
        principal = people[acting] if acting else None
        found[(who, acting)] = {
            o.name: o for o in options(session, people[who], obj, acting_for=principal)
        }
    return found


def _walk(
    session: Session,
    people: dict[str, User],
    kind: str,
    model: type,
    ident: int,
    path: tuple[tuple[str, str | None], ...],
    approved: list[tuple[tuple[str, str | None], ...]],
) -> None:
    """Every order in which the people may endorse: in each state reached somebody may
    endorse or approve; where somebody may approve, the approval goes through."""
    obj = session.get(model, ident)
    assert obj is not None
    session.refresh(obj)
    choices = _choices(session, people, obj)
    endorsers = [p for p, o in choices.items() if "endorse" in o and o["endorse"].allowed]
    deciders = [p for p, o in choices.items() if "approve" in o and o["approve"].allowed]
    assert endorsers or deciders, f"nobody can decide after endorsements by {path}: {choices}"
    for person in deciders:
        nested = session.begin_nested()
        who, acting = person
        take(
            session,
            people[who],
            kind,
            ident,
            "approve",
            acting_for=people[acting] if acting else None,
        )
        approved.append((*path, person))
        nested.rollback()
    for person in endorsers:
        nested = session.begin_nested()
        who, acting = person
        take(
            session,
            people[who],
            kind,
            ident,
            "endorse",
            acting_for=people[acting] if acting else None,
        )
        _walk(session, people, kind, model, ident, (*path, person), approved)
        nested.rollback()


@pytest.mark.parametrize(
    ("amount", "required"), [("56000.00", 2), ("92000.00", 2), ("92000.00", 3)]
)
def test_an_allocation_above_the_limit_can_always_be_approved(
    session: Session, amount: str, required: int
) -> None:
    people = _people(session)
    unit(session, "50230000").approvals_required = required
    allocation = _submitted(session, people["officer"], amount)
    approved: list[tuple[tuple[str, str | None], ...]] = []
    _walk(session, people, "allocation", Allocation, allocation.id, (), approved)
    assert approved
    # The last approval is always the approver's, in person or by her deputy acting for her.
    assert {path[-1] for path in approved} <= {("approver", None), ("deputy", "approver")}
    assert all(len(path) == required for path in approved)


def test_the_demo_shape_each_role_sees_what_it_may_do(session: Session) -> None:
    """56,000 over the 50,000 limit, two approvals: the officers endorse, the approver (or
    her deputy for her) approves; she is told why she does not endorse."""
    people = _people(session)
    allocation = _submitted(session, people["officer"], "56000.00")
    choices = _choices(session, people, allocation)
    assert not choices[("approver", None)]["endorse"].allowed
    assert "last approval" in (choices[("approver", None)]["endorse"].reason or "")
    assert choices[("approver", None)]["return"].allowed
    assert not choices[("deputy", "approver")]["endorse"].allowed
    # Neither is sent to approve it yet: approving waits for the endorsement (it was told
    # "endorse as yourself, or approve", and approving was refused for the endorsement).
    assert not choices[("deputy", "approver")]["approve"].allowed
    deputys = choices[("deputy", "approver")]["endorse"].reason or ""
    assert "endorse as yourself, not acting for" in deputys and "or approve" not in deputys
    assert "waits for 1 more endorsement" in deputys
    assert "wait for 1 more endorsement(s), then approve it" in (
        choices[("approver", None)]["endorse"].reason or ""
    )
    assert choices[("deputy", None)]["endorse"].allowed
    assert choices[("officer", None)]["endorse"].allowed
    take(session, people["deputy"], "allocation", allocation.id, "endorse")
    choices = _choices(session, people, allocation)
    assert choices[("approver", None)]["approve"].allowed
    # The endorsements in, she is sent to approve it.
    assert (choices[("approver", None)]["endorse"].reason or "").endswith(
        "approve it, or return it"
    )
    assert not choices[("deputy", "approver")]["approve"].allowed  # he endorsed
    take(session, people["approver"], "allocation", allocation.id, "approve")
    assert allocation.state is AllocationState.APPROVED


def test_the_approver_refused_an_endorsement_through_the_engine(session: Session) -> None:
    people = _people(session)
    allocation = _submitted(session, people["officer"], "56000.00")
    for who, acting in (("approver", None), ("deputy", "approver")):
        with pytest.raises(Refused) as refused:
            take(
                session,
                people[who],
                "allocation",
                allocation.id,
                "endorse",
                acting_for=people[acting] if acting else None,
            )
        assert refused.value.status == 403
    assert allocation.approval_round == 1 and allocation.state is AllocationState.SUBMITTED


def test_a_transfer_above_the_limit_can_always_be_approved(session: Session) -> None:
    people = _people(session)
    source = demo_project(session)
    source.approved_budget = Decimal("1000000.00")
    target = sibling_project(session, source, "50230000-7778")
    transfer = BudgetTransfer(
        source_id=source.id,
        target_id=target.id,
        amount=Decimal("60000.00"),
        reason="ปรับแผน",
        state=TransferState.PREPARED,
        created_by_id=people["officer"].id,
    )
    session.add(transfer)
    session.flush()
    approved: list[tuple[tuple[str, str | None], ...]] = []
    _walk(session, people, "budget_transfer", BudgetTransfer, transfer.id, (), approved)
    assert approved
    assert {path[-1] for path in approved} <= {("approver", None), ("deputy", "approver")}


def test_an_allocation_she_endorsed_under_the_old_rule_is_returned_and_approved(
    session: Session,
) -> None:
    """The demo's 56,000 the approver endorsed before the rule: she is told the way out
    (return it for a new round), takes it, and the next round ends in her approval."""
    people = _people(session)
    officer, approver, deputy = people["officer"], people["approver"], people["deputy"]
    allocation = _submitted(session, officer, "56000.00")
    session.add(
        Approval(
            subject_type="allocation",
            subject_id=allocation.id,
            level=1,
            round=allocation.approval_round,
            approver_id=approver.id,
            amount=allocation.amount,
        )
    )
    session.flush()
    choices = _choices(session, people, allocation)
    reason = choices[("approver", None)]["approve"].reason or ""
    assert "return it for a new round" in reason
    assert choices[("approver", None)]["return"].allowed
    take(session, approver, "allocation", allocation.id, "return", {"reason": "เห็นชอบผิดขั้น"})
    take(session, officer, "allocation", allocation.id, "revise")
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, deputy, "allocation", allocation.id, "endorse")
    take(session, approver, "allocation", allocation.id, "approve")
    assert allocation.state is AllocationState.APPROVED


def test_the_deputy_who_endorsed_is_not_sent_to_approve_for_her(session: Session) -> None:
    """The deputy endorsed as himself; acting for the approver he was told to approve it
    for her (endorse refused), and then refused that approval for his endorsement. Now
    neither refusal sends him to approve: both name her, who still may."""
    people = _people(session)
    allocation = _submitted(session, people["officer"], "56000.00")
    take(session, people["deputy"], "allocation", allocation.id, "endorse")
    choices = _choices(session, people, allocation)[("deputy", "approver")]
    endorse, approve = choices["endorse"], choices["approve"]
    assert not endorse.allowed and not approve.allowed
    her = people["approver"].name
    assert "so approve it" not in (endorse.reason or "")
    assert "you may not approve it either" in (endorse.reason or "")
    assert f"Leave the approval to {her}, or return it" in (endorse.reason or "")
    assert f"{her} may still approve it" in (approve.reason or "")
    # She still approves it herself, and is still sent to.
    assert (
        _choices(session, people, allocation)[("approver", None)]["endorse"].reason or ""
    ).endswith("approve it, or return it")
    take(session, people["approver"], "allocation", allocation.id, "approve")
    assert allocation.state is AllocationState.APPROVED


def test_the_approver_who_prepared_is_not_sent_to_approve(session: Session) -> None:
    """With a second approver in the district she may prepare one herself; once an officer
    endorsed it, her endorse refusal no longer tells her to approve what four eyes bars her
    from approving, and names the other approver, who may."""
    people = _people(session)
    other, _password = make_user(
        session, Role.APPROVER, unit(session, "50230000"), "second-approver@demo.tidtam.local"
    )
    allocation = _submitted(session, people["approver"], "56000.00")
    take(session, people["officer"], "allocation", allocation.id, "endorse")
    choices = _choices(session, people, allocation)[("approver", None)]
    assert not choices["approve"].allowed
    reason = choices["endorse"].reason or ""
    assert not reason.endswith("approve it, or return it")
    assert "so you may not approve it" in reason
    assert f"Leave the approval to {other.name}, or return it" in reason
