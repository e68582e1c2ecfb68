"""What one transition through the API costs (issue 13): the token, its user and roles in
one statement; the row locked and read with what its guards need; the change with its version
check; the audit row and the event; one commit. `last_used_at` is written at most once a
minute per token, in the same transaction as the request's own change, never committed on
its own before the request's work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from service.api.auth import hash_token
from service.auth.models import ApiToken
from service.core.db import utcnow
from service.projects.models import StepResult
from tests.api_support import all_headers, unit
from tests.sql_count import counting

API = "/api/v1"

#: The most statements one step-result submission by a school's token may send (the same on
#: SQLite and PostgreSQL): the token with its user and roles, the locked row with its step
#: and project, the update, the audit row, the outbox event. Before issue 13: 6, and 7 with
#: `last_used_at` (written and committed on its own first). One more since the project's
#: figures are kept in the transaction that moves them (the waiting count): one upsert at the
#: commit, and on PostgreSQL the figures row locked before it (concurrent changes of one
#: project). Three more
#: at the commit since the audit trail is hash-chained (issue 16): the chain head read under
#: its row lock, the head and the entries updated (the entries are the session's own objects,
#: not read back: four before issue 13's lean path).
BOUND = 9
#: The same when the token's `last_used_at` is a minute old: one UPDATE more, at the commit.
BOUND_WITH_LAST_USED = 10


@contextmanager
def commits(engine: Engine) -> Iterator[list[Session]]:
    """The commits of sessions on `engine` while the block runs (not the embedded broker's)."""
    seen: list[Session] = []

    def committed(session: Session) -> None:
        bind = session.bind
        if bind is engine or getattr(bind, "engine", None) is engine:
            seen.append(session)

    event.listen(Session, "after_commit", committed)
    try:
        yield seen
    finally:
        event.remove(Session, "after_commit", committed)


def _locks(session: Session) -> int:
    """The figures row lock PostgreSQL takes before recomputing (SQLite has one writer)."""
    return 1 if session.get_bind().dialect.name == "postgresql" else 0


def _token_row(session: Session, headers: dict[str, str]) -> ApiToken:
    token = headers["Authorization"].removeprefix("Bearer ")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    assert row is not None
    return row


def _submit(
    client: FlaskClient, headers: dict[str, dict[str, str]], result_id: int
) -> tuple[list[str], int]:
    """The school submits the result (counted: statements and commits), then the officer
    returns it."""
    url = f"{API}/results/{result_id}/transitions"
    engine = client.application.extensions["tidtam.db"]
    with counting(engine) as sent, commits(engine) as done:
        submitted = client.post(
            f"{url}/submit",
            json={"completion": "50.00", "narrative": "ครึ่งทาง"},
            headers=headers["school_a"],
        )
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    returned = client.post(
        f"{url}/return", json={"reason": "เพิ่มหลักฐาน"}, headers=headers["officer"]
    )
    assert returned.status_code == 200, returned.get_data(as_text=True)
    return sent, len(done)


def _summary(sent: list[str]) -> str:
    return "\n".join(" ".join(statement.split())[:120] for statement in sent)


def test_one_transition_sends_few_statements_and_commits_once(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    result = session.scalar(
        select(StepResult).where(StepResult.unit_id == unit(session, "5023077101").id)
    )
    assert result is not None
    token = _token_row(session, headers["school_a"])
    assert token.last_used_at is None

    first, first_commits = _submit(client, headers, result.id)
    assert len(first) <= BOUND_WITH_LAST_USED + _locks(session), _summary(first)
    assert first_commits == 1, "last_used_at was committed on its own"
    # The stamp is the request's last write before the commit's own (the project's figures,
    # then the audit chain), in its transaction: after its own change.
    at_commit = ("audit_chain_head", "chain_seq", "project_figures")
    own = [s for s in first if not any(name in s for name in at_commit)]
    assert own[-1].lstrip().upper().startswith("UPDATE API_TOKEN"), _summary(first)
    assert not any("role_assignment" in s.split("FROM", 1)[-1][:40] for s in first[1:])
    session.expire_all()
    stamped = _token_row(session, headers["school_a"]).last_used_at
    assert stamped is not None

    again, again_commits = _submit(client, headers, result.id)
    assert len(again) <= BOUND + _locks(session), _summary(again)
    assert again_commits == 1
    assert not any("api_token SET" in s for s in again), "stamped again within the minute"

    token = _token_row(session, headers["school_a"])
    token.last_used_at = utcnow() - timedelta(minutes=2)
    session.commit()
    later, _commits = _submit(client, headers, result.id)
    assert len(later) <= BOUND_WITH_LAST_USED + _locks(session), _summary(later)
    session.expire_all()
    restamped = _token_row(session, headers["school_a"]).last_used_at
    assert restamped is not None and restamped > utcnow() - timedelta(minutes=1)


def test_a_read_stamps_last_used_once_a_minute(client: FlaskClient, session: Session) -> None:
    """A token's request that writes nothing commits the stamp alone, once a minute."""
    headers = all_headers(session)
    engine = client.application.extensions["tidtam.db"]
    with commits(engine) as done:
        assert client.get(f"{API}/me", headers=headers["officer"]).status_code == 200
    assert len(done) == 1
    session.expire_all()
    assert _token_row(session, headers["officer"]).last_used_at is not None
    with commits(engine) as done, counting(engine) as sent:
        assert client.get(f"{API}/me", headers=headers["officer"]).status_code == 200
    assert done == [] and not any("api_token SET" in s for s in sent)


def test_a_refused_change_keeps_nothing_but_the_stamp(
    client: FlaskClient, session: Session
) -> None:
    """A refused request still stamps its token, in a transaction of its own (whatever the
    view left uncommitted is rolled back first), and changes nothing else."""
    headers = all_headers(session)
    result = session.scalar(
        select(StepResult).where(StepResult.unit_id == unit(session, "5023077101").id)
    )
    assert result is not None
    version = result.version
    url = f"{API}/results/{result.id}/transitions/submit"
    refused = client.post(url, json={"completion": "50.00"}, headers=headers["school_a"])
    assert refused.status_code == 422
    session.expire_all()
    assert _token_row(session, headers["school_a"]).last_used_at is not None
    assert session.get(StepResult, result.id).version == version  # type: ignore[union-attr]
