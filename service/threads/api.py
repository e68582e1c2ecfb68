"""/api/v1/threads and /api/v1/comments: the thread under a step result, allocation,
installment, evaluation or project, to those who may see the work, through the operations
the pages call (service.threads.operations). A comment with files is sent as
multipart/form-data to .../with-files; files are read back at /api/v1/comment-files/<id>."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, request, send_file
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.api.auth import actor
from service.api.blueprint import Blueprint, commit_or_remove, commits
from service.api.paging import paginate
from service.api.schemas import page_of
from service.api.transitions import ID
from service.extensions import db
from service.projects.evidence import Upload
from service.threads import operations
from service.threads.models import SUBJECT_TYPES, Comment, CommentAttachment
from service.threads.schemas import (
    CommentInput,
    CommentOut,
    CommentWithFiles,
    ThreadArgs,
)
from service.workflow.engine import missing

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


def _multipart() -> dict[str, Any]:
    """The multipart request as `CommentWithFiles` reads it: `mentions` and `files` may
    repeat, any other name is one value (and refused if the schema does not know it).
    Raises ValidationError (a 422 naming the fields)."""
    raw: dict[str, Any] = {
        key: request.form.getlist(key) if key == "mentions" else request.form.get(key)
        for key in request.form
    }
    for key in request.files:
        raw[key] = request.files.getlist(key)
    loaded: dict[str, Any] = CommentWithFiles().load(raw)
    return loaded


@blp.route(f"/threads/<{SUBJECT}:subject_type>/<{ID}:subject_id>/with-files", methods=["POST"])
@blp.doc(
    summary="Add a comment with files (multipart/form-data), checked as evidence files are",
    requestBody={
        "required": True,
        "content": {"multipart/form-data": {"schema": CommentWithFiles}},
    },
)
@blp.response(201, CommentOut)
def add_with_files(subject_type: str, subject_id: int) -> Any:
    data = _multipart()
    uploads = [Upload(f.filename or "", f.read()) for f in data["files"] if f.filename]
    comment, written = operations.add_comment(
        db.session(),
        actor(),
        subject_type,
        subject_id,
        data["body"],
        uploads=uploads,
        mentions=data["mentions"],
        folder=Path(current_app.config["UPLOAD_FOLDER"]),
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
    )
    commit_or_remove(written)
    return comment


@blp.route(f"/comment-files/<{ID}:ident>")
@blp.response(200, {"format": "binary", "type": "string"}, content_type="application/octet-stream")
@blp.doc(summary="A comment's file, to those who see its thread (404 once it is withdrawn)")
def comment_file(ident: int) -> Any:
    session = db.session()
    row = session.get(CommentAttachment, ident)
    if row is None or row.comment.withdrawn_at is not None:
        raise missing("comment", ident)
    operations.visible_comment(session, actor(), row.comment_id)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / row.stored_name
    if not path.is_file():
        raise missing("comment", ident)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


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
