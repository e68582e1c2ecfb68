"""The audit export (CSV and XLSX) of a unit over a range of days, and how it is asked for.

The first fourteen columns are the chain's own fields in `service.audit.chain.FIELDS` order
followed by the previous hash and the hash, all as text, so that an auditor can recompute
every hash from the file alone (docs/audit-chain.md, docs/audit_verify.py); the names, the
local day and the action, object type and states named in the reader's language come after
them, for people."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response

from service.audit.chain import changes_text, instant
from service.audit.permissions import exports_whole_service, may_export_trail
from service.audit.queries import entries_by_ids, unit_trail_ids
from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import Day, FormId, Invalid, value_of
from service.core.fiscal import fiscal_year_bounds, fiscal_year_of, local_date, local_today
from service.core.labels import action_label, object_type_label
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.org.models import OrgUnit, User
from service.workflow.engine import missing
from service.workflow.registry import state_label


def _name(user: User | None) -> str:
    return user.name if user is not None else ""


COLUMNS = (
    Column(_l("Chain position"), lambda e: str(e.chain_seq or ""), width=10),
    Column(_l("Entry"), lambda e: str(e.id), width=10),
    Column(_l("When (UTC)"), lambda e: instant(e.occurred_at), width=28),
    Column(_l("Actor id"), lambda e: "" if e.actor_id is None else str(e.actor_id), width=8),
    Column(
        _l("Acting for id"),
        lambda e: "" if e.acting_for_id is None else str(e.acting_for_id),
        width=8,
    ),
    Column(_l("Action"), lambda e: e.action, width=24),
    Column(_l("Object type"), lambda e: e.object_type, width=14),
    Column(_l("Object id"), lambda e: str(e.object_id), width=10),
    Column(_l("From"), lambda e: e.from_state or "", width=14),
    Column(_l("To"), lambda e: e.to_state or "", width=14),
    Column(_l("Why"), lambda e: e.reason or "", width=40),
    Column(_l("Changes"), lambda e: changes_text(e.changes), width=40),
    Column(_l("Previous hash"), lambda e: e.prev_hash or "", width=66),
    Column(_l("Hash"), lambda e: e.entry_hash or "", width=66),
    Column(_l("Who"), lambda e: _name(e.actor), width=24),
    Column(_l("Acting for"), lambda e: _name(e.acting_for), width=24),
    Column(_l("Day (Bangkok)"), lambda e: local_date(e.occurred_at), "date", width=12),
    # The chain's columns keep the codes (the hashes are over them); these name them in the
    # reader's language ("project.return", "submitted" were all a Thai reader had).
    Column(_l("What was done"), lambda e: action_label(e.action), width=32),
    Column(_l("Of what"), lambda e: object_type_label(e.object_type), width=20),
    Column(_l("State before"), lambda e: state_label(e.object_type, e.from_state), width=18),
    Column(_l("State after"), lambda e: state_label(e.object_type, e.to_state), width=18),
)


@dataclass(frozen=True)
class TrailRequest:
    unit: OrgUnit
    first: date
    last: date
    fmt: str
    #: The root unit's export by its admin: the entries about no unit too.
    whole_service: bool = False


def default_range() -> tuple[date, date]:
    """From the first day of this fiscal year to today (Bangkok)."""
    today = local_today()
    start, _end = fiscal_year_bounds(fiscal_year_of(today))
    return start, today


def read_trail_request(session: Any, user: User, source: Mapping[str, Any]) -> TrailRequest:
    """The unit, days and format asked for, read from a query string.

    Raises Invalid for a bad field, Refused(404) for a unit the user may not export (the same
    answer as for one that does not exist)."""
    unit_id = value_of(FormId(required=True), source, "unit_id")
    first_default, last_default = default_range()
    first = value_of(Day(typed=True), source, "from") or first_default
    last = value_of(Day(typed=True), source, "to") or last_default
    if last < first:
        raise Invalid("to", _("must not be before the first day"))
    fmt = (source.get("format") or "csv").strip()
    if fmt not in FORMATS:
        raise Invalid("format", _("must be csv or xlsx"))
    unit = session.get(OrgUnit, unit_id)
    if unit is None or not may_export_trail(session, user, unit):
        raise missing("org_unit", unit_id)
    return TrailRequest(unit, first, last, fmt, exports_whole_service(session, user, unit))


def trail_download(session: Any, asked: TrailRequest) -> Response:
    ids = unit_trail_ids(
        session, asked.unit, asked.first, asked.last, whole_service=asked.whole_service
    )
    rows = rows_in_chunks(ids, entries_by_ids)
    name = f"audit-{asked.unit.code}-{asked.first.isoformat()}-{asked.last.isoformat()}"
    return download(asked.fmt, name, COLUMNS, rows, _("Audit trail"))
