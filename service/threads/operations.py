"""Every change to a thread: add, edit, withdraw a comment, and open a thread with the reason
of a return. Each checks who may, validates, mutates, flushes, records an audit row on the
subject's own trail (action "comment.add", "comment.edit", "comment.withdraw") and, when
people are @mentioned, emits one "comment.mention" event; never commits."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import emit, record
from service.core.db import utcnow
from service.core.translate import gettext as _
from service.org.models import User
from service.projects.evidence import Upload, check_upload, display_name
from service.threads.models import (
    SUBJECT_TYPES,
    Comment,
    CommentAttachment,
    CommentMention,
    CommentRevision,
)
from service.threads.permissions import can_see_subject, may_change_comment, subject_of
from service.threads.queries import mentionable
from service.workflow.engine import Refused, missing

MAX_BODY = 5000
#: "@somchai" names the person whose e-mail address starts "somchai@".
MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._-]+)")


def visible_subject(session: Session, actor: User, subject_type: str, subject_id: int) -> Any:
    """The subject of a thread when `actor` may see it; Refused(404) otherwise, whether it is
    missing or out of scope (the two are not told apart)."""
    subject = subject_of(session, subject_type, subject_id)
    if subject is None or not can_see_subject(session, actor, subject_type, subject):
        raise missing(subject_type if subject_type in SUBJECT_TYPES else "comment", subject_id)
    return subject


def visible_comment(session: Session, actor: User, comment_id: int) -> Comment:
    """The comment when `actor` may see its subject; Refused(404) otherwise."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise missing("comment", comment_id)
    subject = subject_of(session, comment.subject_type, comment.subject_id)
    if subject is None or not can_see_subject(session, actor, comment.subject_type, subject):
        raise missing("comment", comment_id)
    return comment


def _body(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Refused(422, _("write something"), fields={"body": _("must not be empty")})
    text = text.strip()
    if len(text) > MAX_BODY:
        message = _("at most %(count)s characters", count=MAX_BODY)
        raise Refused(422, message, fields={"body": message})
    return text


def _mentioned(
    session: Session, subject_type: str, subject: Any, body: str, chosen: Iterable[int]
) -> list[User]:
    """The people a comment mentions: those chosen by id and those named "@name" in its
    text. Raises Refused(422) for a chosen id who may not see the subject (named by id only:
    a refusal must not tell who exists); an "@name" naming nobody here stays plain text."""
    people = {person.id: person for person in mentionable(session, subject_type, subject)}
    found: dict[int, User] = {}
    for ident in chosen:
        if ident not in people:
            message = _("user %(id)s cannot see this, so cannot be mentioned", id=ident)
            raise Refused(422, message, fields={"mentions": message})
        found[ident] = people[ident]
    by_name: dict[str, list[User]] = {}
    for person in people.values():
        by_name.setdefault(person.email.split("@", 1)[0].lower(), []).append(person)
    for name in MENTION.findall(body):
        matches = by_name.get(name.lower().rstrip("."), [])
        if len(matches) == 1:
            found[matches[0].id] = matches[0]
    return list(found.values())


def _store(
    session: Session, comment: Comment, uploads: Sequence[Upload], folder: Path, max_bytes: int
) -> list[Path]:
    """Check every upload first (as evidence files are checked), then write each under a
    random name. Returns the paths written, for the caller to remove if it rolls back."""
    checked = [(upload, check_upload(upload, max_bytes)) for upload in uploads]
    written: list[Path] = []
    if checked:
        folder.mkdir(parents=True, exist_ok=True)
    for upload, content_type in checked:
        stored = secrets.token_hex(24)
        path = folder / stored
        with path.open("xb") as target:
            target.write(upload.content)
        written.append(path)
        session.add(
            CommentAttachment(
                comment=comment,
                original_name=display_name(upload.filename),
                stored_name=stored,
                content_type=content_type,
                size=len(upload.content),
            )
        )
    return written


def _tell(session: Session, actor: User, comment: Comment, people: Iterable[User]) -> list[int]:
    """Add the mentions not made before and emit one event telling the new ones (the author
    is never told of their own comment). Returns the ids told."""
    before = set(
        session.scalars(
            select(CommentMention.user_id).where(CommentMention.comment_id == comment.id)
        )
    )
    new = [p.id for p in people if p.id not in before and p.id != actor.id]
    for ident in new:
        session.add(CommentMention(comment_id=comment.id, user_id=ident, revision=comment.revision))
    if new:
        session.flush()
        emit(
            session,
            kind="comment.mention",
            object_type="comment",
            object_id=comment.id,
            actor=actor,
            payload={
                "revision": comment.revision,
                "subject_type": comment.subject_type,
                "subject_id": comment.subject_id,
            },
        )
    return new


def add_comment(
    session: Session,
    actor: User,
    subject_type: str,
    subject_id: int,
    body: Any,
    *,
    uploads: Sequence[Upload] = (),
    mentions: Iterable[int] = (),
    folder: Path | None = None,
    max_bytes: int = 0,
    opened_by: str = "",
) -> tuple[Comment, list[Path]]:
    """Add a comment by `actor` to the thread of the subject (flushed, audited, mentions
    told). Returns the comment and the files written, for a caller that rolls back to remove.

    Raises Refused: 404 when the actor may not see the subject, 422 for an empty or too long
    text, a file refused as evidence would be, or a mention of someone who may not see it."""
    subject = visible_subject(session, actor, subject_type, subject_id)
    text = _body(body)
    people = _mentioned(session, subject_type, subject, text, mentions)
    if uploads and folder is None:
        raise Refused(422, _("files cannot be attached here"), fields={"files": _("not here")})
    comment = Comment(
        subject_type=subject_type,
        subject_id=subject_id,
        author_id=actor.id,
        body=text,
        opened_by=opened_by,
        revision=1,
        created_at=utcnow(),
    )
    session.add(comment)
    session.flush()
    written = _store(session, comment, uploads, folder, max_bytes) if folder else []
    session.flush()
    told = _tell(session, actor, comment, people)
    record(
        session,
        action="comment.add",
        object_type=subject_type,
        object_id=subject_id,
        actor=actor,
        changes={
            "comment_id": comment.id,
            "files": [a.original_name for a in comment.attachments],
            "mentions": told,
            **({"opened_by": opened_by} if opened_by else {}),
        },
    )
    return comment, written


def edit_comment(
    session: Session, actor: User, comment: Comment, body: Any, mentions: Iterable[int] = ()
) -> Comment:
    """Replace the text of `actor`'s own comment, keeping the text it had as a revision
    (flushed, audited; people newly mentioned are told). Raises Refused: 404 when the actor
    may not see it, 403 when it is not theirs or is withdrawn, 422 as `add_comment`."""
    subject = visible_subject(session, actor, comment.subject_type, comment.subject_id)
    allowed = may_change_comment(actor, comment)
    if not allowed:
        raise Refused(403, allowed.reason)
    text = _body(body)
    people = _mentioned(session, comment.subject_type, subject, text, mentions)
    if text == comment.body:
        # The same words change nothing: a mention is told with the revision that makes it
        # (the recipients rule reads the mentions of the event's revision).
        return comment
    session.add(
        CommentRevision(
            comment_id=comment.id,
            revision=comment.revision,
            body=comment.body,
            written_at=comment.edited_at or comment.created_at,
            replaced_at=utcnow(),
        )
    )
    comment.body = text
    comment.revision += 1
    comment.edited_at = utcnow()
    session.flush()
    told = _tell(session, actor, comment, people)
    record(
        session,
        action="comment.edit",
        object_type=comment.subject_type,
        object_id=comment.subject_id,
        actor=actor,
        changes={"comment_id": comment.id, "revision": comment.revision, "mentions": told},
    )
    return comment


def withdraw_comment(session: Session, actor: User, comment: Comment) -> Comment:
    """Mark `actor`'s own comment withdrawn (flushed, audited). Nothing is deleted: the row,
    its revisions and files stay; the thread shows it as withdrawn. Raises Refused: 404 when
    the actor may not see it, 403 when it is not theirs, 409 when already withdrawn."""
    visible_subject(session, actor, comment.subject_type, comment.subject_id)
    if comment.withdrawn_at is not None:
        raise Refused(409, _("the comment is withdrawn already"), state="withdrawn")
    allowed = may_change_comment(actor, comment)
    if not allowed:
        raise Refused(403, allowed.reason)
    comment.withdrawn_at = utcnow()
    comment.withdrawn_by_id = actor.id
    session.flush()
    record(
        session,
        action="comment.withdraw",
        object_type=comment.subject_type,
        object_id=comment.subject_id,
        actor=actor,
        changes={"comment_id": comment.id},
    )
    return comment


def open_with_reason(
    session: Session, actor: User, subject_type: str, subject: Any, action: str, reason: str
) -> Comment:
    """The reason of a return ("requires changes"), or the note given with an acceptance,
    as a comment in the subject's thread, so the answer is written under it. Called by the
    transition's effect, in its transaction; the transition itself tells the people
    concerned, so nobody is mentioned here."""
    comment = Comment(
        subject_type=subject_type,
        subject_id=subject.id,
        author_id=actor.id,
        body=reason,
        opened_by=action,
        revision=1,
        created_at=utcnow(),
    )
    # Not flushed here: the effect runs halfway through the transition (the row may not yet
    # satisfy its checks); the engine's flush writes the comment with the new state.
    session.add(comment)
    record(
        session,
        action="comment.add",
        object_type=subject_type,
        object_id=subject.id,
        actor=actor,
        changes={"opened_by": action},
    )
    return comment
