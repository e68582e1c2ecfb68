"""The workflow engine: one generic way to change the state of anything.

A workflow is data: its states and a table of transitions, each naming its source states,
its target, who may take it (a predicate over the role and the object's unit), guards that
answer with a reason, the input it requires and an effect. `take` applies any of them the same
way, in the caller's transaction:

    lock the row (SELECT … FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite) → re-check the
    state inside the lock → who may → input → lock parents → guards → effect → new state →
    one audit row and one outbox event.

A stale or concurrent change is refused with 409 and the current state; the version column
(mapper version_id_col) catches anything that slips past the lock. Operations flush; the
caller commits once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import MANYTOONE, Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from service.audit.operations import emit, record
from service.core import translate
from service.core.fields import decimal_comma, plain_number, read_day
from service.core.fiscal import local_today
from service.core.permissions import Answer
from service.core.translate import gettext as _
from service.org.models import User
from service.org.scope import principals_on


class Refused(Exception):
    """A transition that may not happen: `status` is the HTTP answer (403, 404, 409, 422),
    `reason` says why in words, `fields` names bad input, `state` is the current state."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        fields: dict[str, str] | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.fields = fields or {}
        self.state = state


def missing(kind: str, ident: object) -> Refused:
    """Refused(404) for the object of audit object type `kind` and id `ident`: the one answer
    for an object that does not exist and for one outside the caller's scope."""
    from service.core.labels import object_type_label

    return Refused(
        404, _("%(object)s %(id)s does not exist", object=object_type_label(kind), id=ident)
    )


@dataclass
class Context:
    """What a predicate, guard or effect sees. `principal` is whose authority is used: the
    actor, or the person the actor acts for under a delegation."""

    session: Session
    actor: User
    principal: User
    obj: Any
    data: dict[str, Any]
    today: date
    transition: Transition | None = None


# ---- input -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """An input a transition requires; `parse` turns raw input into a value or raises
    ValueError with a message for the person."""

    name: str
    parse: Callable[[Any], Any]
    required: bool = True


def text_field(name: str, *, required: bool = True, max_length: int = 5000) -> Field:
    def parse(value: Any) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(_("must be text"))
        value = value.strip()
        if required and not value:
            raise ValueError(_("must not be empty"))
        if len(value) > max_length:
            raise ValueError(_("at most %(count)s characters", count=max_length))
        return value

    return Field(name, parse, required)


def decimal_field(
    name: str,
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    places: int = 2,
    required: bool = True,
    positive: bool = False,
    example: str = "90000.00",
) -> Field:
    def parse(value: Any) -> Decimal | None:
        if value is None or value == "":
            if required:
                raise ValueError(_("is required"))
            return None
        if isinstance(value, float | bool):
            raise ValueError(_("must be a decimal string such as %(example)s", example=example))
        if decimal_comma(str(value)):
            raise ValueError(_("write decimals with a point, such as %(example)s", example=example))
        try:
            number = Decimal(str(value).replace(",", "").strip())
        except InvalidOperation:
            raise ValueError(_("must be a number")) from None
        if not number.is_finite():
            raise ValueError(_("must be a number"))
        # The size first (NUMERIC(14, 2) holds 12 digits before the point): quantizing 1e309
        # raises InvalidOperation.
        if abs(number) >= Decimal(10) ** 12:
            raise ValueError(_("at most %(digits)s digits before the point", digits=12))
        if not plain_number(str(value)):
            raise ValueError(_("must be a number such as %(example)s", example=example))
        if number != number.quantize(Decimal(1).scaleb(-places)):
            raise ValueError(_("at most %(places)s decimal places", places=places))
        if positive and number <= 0:
            raise ValueError(_("must be more than 0"))
        if minimum is not None and number < minimum:
            raise ValueError(_("must be at least %(minimum)s", minimum=minimum))
        if maximum is not None and number > maximum:
            raise ValueError(_("must be at most %(maximum)s", maximum=maximum))
        return number

    return Field(name, parse, required)


def date_field(name: str, *, required: bool = True) -> Field:
    def parse(value: Any) -> date | None:
        if value in (None, ""):
            if required:
                raise ValueError(_("is required"))
            return None
        if isinstance(value, date):
            return value
        try:
            return read_day(str(value))
        except ValidationError as error:
            messages = error.messages
            raise ValueError(
                "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
            ) from None

    return Field(name, parse, required)


REASON = text_field("reason")


# ---- tables ----------------------------------------------------------------------------------

Who = Callable[[Context], Answer]
Guard = Callable[[Context], str | None]
Effect = Callable[[Context], dict[str, Any] | None]


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]
    target: str
    who: Who
    label: tuple[str, str]  # (Thai, English)
    guards: tuple[Guard, ...] = ()
    requires: tuple[Field, ...] = ()
    effect: Effect | None = None
    # Rows locked before the guards run, e.g. the project whose budget an approval spends.
    locks: Callable[[Context], Sequence[tuple[type, int]]] | None = None
    # A transition the engine may take without a person (a beat task closing the year).
    system: bool = False


@dataclass(frozen=True)
class Workflow:
    name: str
    model: type
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    # May this user see the object at all? If not, it does not exist for them (404).
    visible: Callable[[Session, User, Any], bool]
    # The ids an event carries so that the workers can resolve recipients.
    unit_of: Callable[[Any], int]
    project_of: Callable[[Any], int | None]
    payload: Callable[[Any], dict[str, Any]] = field(default=lambda obj: {})

    def transition(self, name: str) -> Transition:
        for transition in self.transitions:
            if transition.name == name:
                return transition
        raise Refused(
            404,
            _("%(object)s has no such action", object=_object(self.name)),
        )

    def mermaid(self) -> str:
        """The table as a Mermaid state diagram: drawn from the same data the engine runs."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for transition in self.transitions:
            for source in transition.sources:
                lines.append(f"    {source} --> {transition.target}: {transition.name}")
        return "\n".join(lines)


REGISTRY: dict[str, Workflow] = {}


def register(workflow: Workflow) -> Workflow:
    REGISTRY[workflow.name] = workflow
    return workflow


def workflow_for(obj: Any) -> Workflow:
    for workflow in REGISTRY.values():
        if isinstance(obj, workflow.model):
            return workflow
    raise LookupError(f"no workflow for {type(obj).__name__}")


def load_workflows() -> dict[str, Workflow]:
    """Every domain's table, discovered by `service.workflow.registry.workflows`."""
    from service.workflow.registry import workflows

    return workflows()


# ---- applying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """A transition as the user sees it now: allowed, or not with the reason. `lacks_role`:
    refused only because the user holds none of the roles that take it (they never will),
    not for the object's state, a guard or a rule such as four eyes."""

    name: str
    label_th: str
    label_en: str
    allowed: bool
    reason: str | None
    requires: tuple[str, ...]
    lacks_role: bool = False
    #: Those of `requires` that may be left empty (a note given with an acceptance): a page
    #: offers their field without insisting on it.
    optional: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_th


def resolve_principal(session: Session, actor: User, acting_for: User | None, today: date) -> User:
    """`acting_for` when the actor holds a delegation from them today, else the actor.

    Raises Refused(403) when the actor claims a delegation they do not hold
    (`no_delegation`: the answer names the principal by id only).
    """
    if acting_for is None or acting_for.id == actor.id:
        return actor
    if any(p.id == acting_for.id for p in principals_on(session, actor, today)):
        return acting_for
    raise no_delegation(acting_for.id)


def no_delegation(principal_id: int) -> Refused:
    """The refusal of acting for user `principal_id` without a delegation from them today:
    the same whether that user exists or not, and naming nobody (a caller must not learn
    people's names, or who exists, by trying ids)."""
    return Refused(403, _("the caller holds no delegation from user %(id)s today", id=principal_id))


def _object(workflow_name: str) -> str:
    """What an object of `workflow_name` is called on screen, in the current language."""
    from service.workflow.registry import kind_label

    return kind_label(workflow_name)


def _state_name(obj: Any) -> str:
    """The on-screen name of `obj`'s current state."""
    from service.core.labels import label

    return label(obj.state) if hasattr(obj.state, "value") else str(obj.state)


def _action(workflow_name: str, transition: Transition) -> str:
    """The transition's name in the current language (English outside a request), as
    `service.workflow.registry.transition_label` names it."""
    from service.workflow.registry import transition_label

    return transition_label(workflow_name, transition.name, translate.current())


def _changed(workflow_name: str, ident: int) -> str:
    return _(
        "%(object)s %(id)s was changed meanwhile: reload it and try again",
        object=_object(workflow_name),
        id=ident,
    )


def _state(obj: Any) -> str:
    return str(obj.state.value if hasattr(obj.state, "value") else obj.state)


def _check(ctx: Context, transition: Transition) -> Answer:
    """Who may, then the guards, without input: what `options` shows."""
    if _state(ctx.obj) not in transition.sources:
        return Answer(False, _("not possible while %(state)s", state=_state_name(ctx.obj)))
    if transition.system:
        return Answer(False, _("taken by the system"))
    allowed = transition.who(ctx)
    if not allowed:
        return allowed
    for guard in transition.guards:
        problem = guard(ctx)
        if problem:
            return Answer(False, problem)
    return Answer(True)


def options(
    session: Session, actor: User, obj: Any, *, acting_for: User | None = None
) -> list[Option]:
    """Every transition out of the object's current state, each allowed or with its reason.
    Guards that need input (an amount) are judged on what is known now."""
    workflow = workflow_for(obj)
    today = local_today()
    principal = resolve_principal(session, actor, acting_for, today)
    found = []
    for transition in workflow.transitions:
        if _state(obj) not in transition.sources or transition.system:
            continue
        ctx = Context(session, actor, principal, obj, {}, today, transition)
        answer = _check(ctx, transition)
        found.append(
            Option(
                name=transition.name,
                label_th=transition.label[0],
                label_en=transition.label[1],
                allowed=answer.ok,
                reason=None if answer.ok else answer.reason,
                requires=tuple(f.name for f in transition.requires),
                lacks_role=not answer.ok and answer.lacks_role,
                optional=tuple(f.name for f in transition.requires if not f.required),
            )
        )
    return found


#: Facts read in bulk so that a page listing many objects can show their options without
#: each guard querying for its own object (see `remember_for_display`).
_DISPLAY_FACTS = "tidtam.display_facts"


def remember_for_display(session: Session, name: str, facts: dict[Any, Any]) -> None:
    """Keep `facts` (keyed by object) for the guards of `options` to read instead of
    querying. They are forgotten when the session flushes, commits or rolls back, and when
    a transition locks its row: a transition's guards always read afresh under the lock."""
    session.info.setdefault(_DISPLAY_FACTS, {})[name] = facts


def display_facts(session: Session, name: str) -> dict[Any, Any] | None:
    """The facts `name` remembered for display, or None: query."""
    found: dict[Any, Any] | None = session.info.get(_DISPLAY_FACTS, {}).get(name)
    return found


def forget_display_facts(session: Session, *_args: Any) -> None:
    """Session `after_flush` / `after_commit` / `after_soft_rollback`."""
    session.info.pop(_DISPLAY_FACTS, None)


@cache
def _parents(model: type) -> tuple[Any, ...]:
    """Loader options joining every many-to-one relation of `model` (its step, unit, project):
    the predicates and guards read them, and one joined read saves a query for each."""
    relations: Any = sa_inspect(model).relationships
    options = []
    for relation in relations:
        if relation.direction is not MANYTOONE:
            continue
        option = joinedload(getattr(model, relation.key))
        # A result's step's project too: the plan guard and the reviewer's unit read it.
        target = relation.mapper.class_
        if relation.key != "project" and "project" in sa_inspect(target).relationships:
            option = option.joinedload(target.project)
        options.append(option)
    return tuple(options)


def lock(session: Session, model: type, ident: int) -> Any:
    """The row, locked for this transaction and read fresh (never a stale identity-map copy).
    Only the row itself is locked (FOR UPDATE OF), not the parents read along with it."""
    forget_display_facts(session)
    stmt: Any = (
        select(model)
        .where(model.id == ident)  # type: ignore[attr-defined]
        .options(*_parents(model))
        .with_for_update(of=model)
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).unique().one_or_none()


def take(
    session: Session,
    actor: User,
    workflow_name: str,
    ident: int,
    name: str,
    data: dict[str, Any] | None = None,
    *,
    acting_for: User | None = None,
    expected_version: int | None = None,
    system: bool = False,
) -> Any:
    """Apply transition `name` to the `workflow_name` object `ident` as `actor`.

    Returns the object in its new state (flushed, not committed). Raises Refused: 404 when the
    object does not exist for the actor, 403 when they may not, 409 when the object is no
    longer in a source state or `expected_version` is stale, 422 for bad input or a guard.
    """
    workflow = load_workflows()[workflow_name]
    today = local_today()
    principal = resolve_principal(session, actor, acting_for, today)
    obj = lock(session, workflow.model, ident)
    if obj is None or not (system or workflow.visible(session, principal, obj)):
        raise Refused(
            404, _("%(object)s %(id)s does not exist", object=_object(workflow_name), id=ident)
        )
    transition = workflow.transition(name)
    state = _state(obj)
    if expected_version is not None and obj.version != expected_version:
        raise Refused(409, _changed(workflow_name, ident), state=state)
    if state not in transition.sources:
        raise Refused(
            409,
            _(
                "%(object)s %(id)s is %(state)s: cannot %(action)s",
                object=_object(workflow_name),
                id=ident,
                state=_state_name(obj),
                action=_action(workflow_name, transition),
            ),
            state=state,
        )
    ctx = Context(session, actor, principal, obj, dict(data or {}), today, transition)
    if transition.system and not system:
        raise Refused(
            403, _("%(action)s is taken by the system", action=_action(workflow_name, transition))
        )
    if not system:
        allowed = transition.who(ctx)
        if not allowed:
            raise Refused(403, allowed.reason, state=state)
    values, problems = {}, {}
    for spec in transition.requires:
        try:
            values[spec.name] = spec.parse(ctx.data.get(spec.name))
        except ValueError as error:
            problems[spec.name] = str(error)
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems, state=state)
    ctx.data = {**ctx.data, **values}
    if transition.locks:
        for model, parent_id in transition.locks(ctx):
            lock(session, model, parent_id)
    for guard in transition.guards:
        problem = guard(ctx)
        if problem:
            raise Refused(422, problem, state=state)
    changes = (transition.effect(ctx) if transition.effect else None) or {}
    obj.state = type(obj.state)(transition.target)
    try:
        session.flush()
    except StaleDataError:
        raise Refused(409, _changed(workflow_name, ident)) from None
    reason = str(values.get("reason") or "")
    record(
        session,
        action=f"{workflow_name}.{name}",
        object_type=workflow_name,
        object_id=obj.id,
        actor=actor,
        acting_for=principal if principal.id != actor.id else None,
        from_state=state,
        to_state=transition.target,
        changes=changes,
        reason=reason,
    )
    emit(
        session,
        kind=f"{workflow_name}.{name}",
        object_type=workflow_name,
        object_id=obj.id,
        actor=actor,
        payload={
            "from": state,
            "to": transition.target,
            "actor_id": actor.id,
            "acting_for_id": principal.id if principal.id != actor.id else None,
            "reason": reason,
            "unit_id": workflow.unit_of(obj),
            "project_id": workflow.project_of(obj),
            **workflow.payload(obj),
        },
    )
    session.flush()
    return obj


@dataclass(frozen=True)
class Outcome:
    """What became of one item of `take_each`: the object in its new state, or the refusal."""

    ident: int
    obj: Any = None
    refused: Refused | None = None


def take_each(
    session: Session,
    actor: User,
    workflow_name: str,
    ids: Sequence[int],
    name: str,
    data: dict[str, Any] | None = None,
    *,
    acting_for: User | None = None,
    expected_versions: Mapping[int, int] | None = None,
) -> list[Outcome]:
    """`take` on each id, each in a savepoint of its own: a refusal (or a unique constraint
    caught by the database, as a 409) undoes that item only. The one door of every bulk
    decision (the API's bulk route, the review queue); the caller commits once.
    `expected_versions`: id -> the version the page showed (see `take`); ids it does not
    name are not checked."""
    outcomes = []
    for ident in ids:
        try:
            with session.begin_nested():
                obj = take(
                    session,
                    actor,
                    workflow_name,
                    ident,
                    name,
                    dict(data or {}),
                    acting_for=acting_for,
                    expected_version=(expected_versions or {}).get(ident),
                )
            outcomes.append(Outcome(ident, obj=obj))
        except Refused as refused:
            outcomes.append(Outcome(ident, refused=refused))
        except IntegrityError:
            changed = Refused(409, _("changed by another request meanwhile"))
            outcomes.append(Outcome(ident, refused=changed))
    return outcomes
