"""/api/v1/threads and /api/v1/comments: the thread under a step result, allocation,
installment, evaluation or project, to those who may see the work, through the operations
the pages call (service.threads.operations). Files are attached on the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import page_of
from service.api.transitions import ID
from service.extensions import db
from service.threads import operations
from service.threads.models import SUBJECT_TYPES, Comment
from service.threads.schemas import CommentInput, CommentOut, ThreadArgs

blp = Blueprint(
    "api_threads", __name__, url_prefix="/api/v1", description="Conversations on the work"
)

SUBJECT = f"any({','.join(SUBJECT_TYPES)})"


@blp.route(f"/threads/<{SUBJECT}:subject_type>/<{ID}:subject_id>")
@blp.arguments(ThreadArgs, location="query")
@blp.response(200, page_of(CommentOut, "CommentPage"))
@blp.doc(summary="The thread of a piece of work, oldest comment first (404 if not visible)")
def thread(args: dict[str, Any], subject_type: str, subject_id: int) -> Any:
    session = db.session()
    operations.visible_subject(session, actor(), subject_type, subject_id)
    statement = (
        select(Comment.id)
        .where(Comment.subject_type == subject_type, Comment.subject_id == subject_id)
        .order_by(Comment.id)
    )
    page = paginate(session, statement, args)
    loaded = {
        c.id: c
        for c in session.scalars(
            select(Comment)
            .where(Comment.id.in_(page["items"]))
            .options(
                selectinload(Comment.author),
                selectinload(Comment.attachments),
                selectinload(Comment.revisions),
            )
        )
    }
    return {**page, "items": [loaded[ident] for ident in page["items"]]}


@blp.route(f"/threads/<{SUBJECT}:subject_type>/<{ID}:subject_id>", methods=["POST"])
@blp.arguments(CommentInput)
@blp.response(201, CommentOut)
@blp.doc(summary="Add a comment; `mentions` (and @name in the text) tell people who see it")
@commits
def add(data: dict[str, Any], subject_type: str, subject_id: int) -> Any:
    comment, _written = operations.add_comment(
        db.session(), actor(), subject_type, subject_id, data["body"], mentions=data["mentions"]
    )
    return comment


@blp.route(f"/comments/<{ID}:ident>")
@blp.response(200, CommentOut)
@blp.doc(summary="One comment with its earlier wordings")
def get_comment(ident: int) -> Any:
    return operations.visible_comment(db.session(), actor(), ident)


@blp.route(f"/comments/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(CommentInput)
@blp.response(200, CommentOut)
@blp.doc(summary="Reword your comment (the earlier wording is kept as a revision)")
@commits
def edit(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    comment = operations.visible_comment(session, actor(), ident)
    return operations.edit_comment(session, actor(), comment, data["body"], data["mentions"])


@blp.route(f"/comments/<{ID}:ident>/withdraw", methods=["POST"])
@blp.response(200, CommentOut)
@blp.doc(summary="Withdraw your comment: it stays in the thread, shown as withdrawn")
@commits
def withdraw(ident: int) -> Any:
    session = db.session()
    comment = operations.visible_comment(session, actor(), ident)
    return operations.withdraw_comment(session, actor(), comment)
