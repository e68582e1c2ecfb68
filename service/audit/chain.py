"""The audit log's hash chain: every entry carries the hash of the entry before it, so an
entry changed, removed or slipped in afterwards breaks the chain where it was touched.

One stream for the whole service. A stream per root unit would need each entry's unit, and
many entries have none (users, delegations, fiscal years, the strategy tree) or one that
moves; one stream chains every entry without asking. Its cost is that appends are serialised:
the committing transaction locks the chain head row, chains its own entries and holds the
lock until it commits. The lock is taken last, in `before_commit`, after every other row
lock of the transaction, so it adds no lock-order cycle (no deadlock) and is held only for
the commit itself; a district service commits a few changes a second at most.

An entry's hash is SHA-256 over the previous entry's hash, a newline and the entry's
canonical form (`canonical`): a JSON array of strings, each field as text, so that a row read
back from a CSV export gives the same bytes (docs/audit-chain.md; tools/audit_verify.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, object_session

from service.audit.models import AuditChainHead, AuditEntry

STREAM = "audit"
#: The "previous hash" of the first entry.
GENESIS = "0" * 64
_UNCHAINED = "tidtam.audit_unchained"


def instant(value: datetime) -> str:
    """`value` as the chain writes it: UTC, ISO 8601 with microseconds and a Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def changes_text(changes: Any) -> str:
    """The changes of an entry as canonical JSON (sorted keys, no spaces, Thai as is)."""
    return json.dumps(changes or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


#: The fields of the canonical form, in order; the export's columns carry each of them.
FIELDS = (
    "chain_seq",
    "id",
    "occurred_at",
    "actor_id",
    "acting_for_id",
    "action",
    "object_type",
    "object_id",
    "from_state",
    "to_state",
    "reason",
    "changes",
)


def fields_of(entry: Any, seq: int | None = None) -> list[str]:
    """The entry's chained fields as text ("" for none), in `FIELDS` order."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return [
        text(entry.chain_seq if seq is None else seq),
        text(entry.id),
        instant(entry.occurred_at),
        text(entry.actor_id),
        text(entry.acting_for_id),
        text(entry.action),
        text(entry.object_type),
        text(entry.object_id),
        text(entry.from_state),
        text(entry.to_state),
        text(entry.reason),
        changes_text(entry.changes),
    ]


def canonical(fields: list[str]) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def link_hash(prev_hash: str, fields: list[str]) -> str:
    """SHA-256 (hex) of the previous hash, a newline and the entry's canonical form."""
    return hashlib.sha256(f"{prev_hash}\n{canonical(fields)}".encode()).hexdigest()


def note_unchained_entry(_mapper: Any, _connection: Any, entry: AuditEntry) -> None:
    """AuditEntry `after_insert`: the session has this entry to chain before it commits."""
    session = object_session(entry)
    if session is not None:
        session.info.setdefault(_UNCHAINED, []).append(entry)


def _still_written(session: Session, entry: AuditEntry) -> bool:
    """Whether `entry`, inserted by this session, is still a row of its transaction: one
    inserted in a savepoint since rolled back (a refused item of a bulk action) has been
    expunged, and is not there to chain."""
    state = inspect(entry)
    return state.persistent and state.session is session


def chain_audit_entries(session: Session) -> None:
    """Session `before_commit`: chain the entries this transaction wrote, under the chain
    head's row lock (held until the commit). Entries of other transactions still in flight
    are not visible here; committed entries are all chained already.

    The entries are the objects this session inserted (noted at `after_insert`), taken as
    the session holds them: reading them back would return these same objects from the
    identity map, at the cost of a statement. Under the lock, the head gives the place after
    the last committed entry; whatever other transactions do meanwhile waits for the lock."""
    if not session.info.get(_UNCHAINED) and not any(
        isinstance(obj, AuditEntry) for obj in session.new
    ):
        return
    session.flush()
    # Only this session's own entries: rows written past the ORM (a bulk load) are not this
    # commit's to chain, and `verify` reports them as outside the chain.
    noted: list[AuditEntry] = session.info.pop(_UNCHAINED, [])
    entries = sorted(
        {
            id(entry): entry
            for entry in noted
            if _still_written(session, entry) and entry.chain_seq is None
        }.values(),
        key=lambda entry: entry.id,
    )
    if not entries:
        return
    head = session.scalars(
        select(AuditChainHead)
        .where(AuditChainHead.stream == STREAM)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if head is None:  # a database made without the migration that seeds the head
        head = AuditChainHead(stream=STREAM, last_seq=0, last_hash=GENESIS)
        session.add(head)
    for entry in entries:
        seq = head.last_seq + 1
        entry.chain_seq = seq
        entry.prev_hash = head.last_hash
        entry.entry_hash = link_hash(head.last_hash, fields_of(entry, seq))
        head.last_seq = seq
        head.last_hash = entry.entry_hash
    session.flush()


def seal_existing(rows: Iterable[Any]) -> Iterator[tuple[int, int, str, str]]:
    """(id, seq, prev_hash, hash) for rows given oldest first (the migration's chain)."""
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        digest = link_hash(prev, fields_of(row, seq))
        yield row.id, seq, prev, digest
        prev = digest


@dataclass(frozen=True)
class Break:
    """The first broken link: the entry and what is wrong with it."""

    entry_id: int | None
    seq: int | None
    problem: str  # in English, for logs and tests; `kind` and `numbers` say it in any language
    kind: str = ""  # missing, previous, changed, outside, head
    numbers: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"entry {self.entry_id} (chain position {self.seq}): {self.problem}"


@dataclass(frozen=True)
class Verdict:
    checked: int
    broken: Break | None


def verify(session: Session, batch: int = 2000) -> Verdict:
    """Walk the chain in order and recompute every hash. The first problem found is
    returned: an entry whose content no longer gives its hash, whose previous hash is not
    the hash of the entry before it, a missing position, an entry outside the chain, or a
    head that does not name the last entry."""
    checked = 0
    prev = GENESIS
    expected_seq = 1
    stmt = (
        select(AuditEntry).where(AuditEntry.chain_seq.is_not(None)).order_by(AuditEntry.chain_seq)
    )
    # populate_existing: what the table holds now, not what this session remembers.
    rows = session.scalars(stmt.execution_options(yield_per=batch, populate_existing=True))
    try:
        for entry in rows:
            problem, kind = None, ""
            numbers: tuple[int, ...] = ()
            if entry.chain_seq != expected_seq:
                problem = f"position {expected_seq} is missing (an entry was removed)"
                kind, numbers = "missing", (expected_seq,)
            elif entry.prev_hash != prev:
                problem = "its previous hash is not the hash of the entry before it"
                kind = "previous"
            else:
                digest = link_hash(prev, fields_of(entry))
                if digest != entry.entry_hash:
                    problem = "its content does not match its hash (changed)"
                    kind = "changed"
            if problem is not None:
                return Verdict(checked, Break(entry.id, entry.chain_seq, problem, kind, numbers))
            prev = digest
            expected_seq += 1
            checked += 1
    finally:
        rows.close()
    outside = session.scalar(
        select(AuditEntry.id).where(AuditEntry.chain_seq.is_(None)).order_by(AuditEntry.id)
    )
    if outside is not None:
        return Verdict(
            checked, Break(outside, None, "it is outside the chain (inserted past it)", "outside")
        )
    head = session.scalars(
        select(AuditChainHead)
        .where(AuditChainHead.stream == STREAM)
        .execution_options(populate_existing=True)
    ).one_or_none()
    last_seq = expected_seq - 1
    if head is not None and (head.last_seq != last_seq or head.last_hash != prev):
        return Verdict(
            checked,
            Break(
                None,
                head.last_seq,
                f"the chain head names position {head.last_seq} but the chain ends at"
                f" {last_seq} (the last entries were removed)",
                "head",
                (head.last_seq, last_seq),
            ),
        )
    return Verdict(checked, None)
