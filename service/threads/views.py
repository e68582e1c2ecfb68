"""Threads on the pages: the compact thread under a piece of work (a macro in
templates/threads/_thread.html, fed by `thread_view`), a thread's own page for work that is
listed rather than shown alone (allocations, installments, evaluations), and the forms that
add, edit and withdraw comments. Every change is an operation of service.threads.operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
)
from flask_login import login_required
from werkzeug.wrappers import Response

from service.core.fields import ids_in
from service.core.translate import gettext as _
from service.core.web import current_language, safe_next
from service.org.models import User
from service.projects.evidence import Upload
from service.projects.permissions import can_see_project
from service.threads import operations
from service.threads.models import SUBJECT_TYPES, Comment, CommentAttachment
from service.threads.permissions import can_see_subject, subject_of
from service.threads.queries import (
    PAGES,
    comment_counts,
    comment_link,
    comments_of,
    mentionable,
    subject_words,
)
from service.workflow.engine import Refused
from service.workflow.screens import actor, run_change, session

bp = Blueprint("threads", __name__)


@dataclass
class ThreadView:
    """What the thread macro draws: the subject's comments, who may be mentioned (None: asked
    for when the reader opens "Tell people", see `people`), and the reader's draft when a
    comment was refused."""

    subject_type: str
    subject_id: int
    comments: list[Comment]
    people: list[User] | None
    reader_id: int
    draft: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.subject_type}-{self.subject_id}"

    @property
    def action(self) -> str:
        return f"/threads/{self.subject_type}/{self.subject_id}"


def thread_view(
    subject_type: str, subject: Any, *, seen: bool = False, people: bool = True, **kw: Any
) -> ThreadView | None:
    """The thread of `subject` for the signed-in reader; None when they may not see it.
    `seen`: the page has just held the reader to the subject's predicate (not asked again).
    `people=False`: who may be mentioned is read when the reader opens the list, not with
    the page (a thread under a piece of work, which most readers only read)."""
    reader = actor()
    if subject is None:
        return None
    if not seen and not can_see_subject(session(), reader, subject_type, subject):
        return None
    return ThreadView(
        subject_type,
        subject.id,
        comments_of(session(), subject_type, subject.id),
        mentionable(session(), subject_type, subject) if people else None,
        reader.id,
        **kw,
    )


@bp.app_context_processor
def _thread_helpers() -> dict[str, Any]:
    """`thread_view(type, subject)` and `comment_counts(type, ids)` for every template."""

    def counts(subject_type: str, ids: Any) -> dict[int, int]:
        return comment_counts(session(), subject_type, ids)

    return {"thread_view": thread_view, "comment_counts": counts}


def _visible(subject_type: str, subject_id: int) -> Any:
    if subject_type not in SUBJECT_TYPES:
        abort(404)
    subject = subject_of(session(), subject_type, subject_id)
    if subject is None or not can_see_subject(session(), actor(), subject_type, subject):
        abort(404)
    return subject


def _back(default: str, comment_id: int | None = None) -> str:
    """The page the form named in `next` (a path on this site), else `default`; anchored at
    comment `comment_id` when given."""
    target = safe_next(request.form.get("next")) or default
    return target if comment_id is None else target.split("#")[0] + f"#comment-{comment_id}"


def _thread_page(subject_type: str, subject: Any, status: int = 200, **kw: Any) -> Any:
    heading, project, _unit = subject_words(session(), subject_type, subject, current_language())
    # A school paid from a project it takes no part in sees the allocation, not the project:
    # the way to it is offered only where its page would open.
    if project is not None and not can_see_project(session(), actor(), project):
        project = None
    page = render_template(
        "threads/page.html",
        heading=heading,
        project=project,
        view=thread_view(subject_type, subject, **kw),
        back=PAGES[subject_type].format(id=subject.id)
        if subject_type in ("step_result", "project")
        else None,
    )
    return page, status


# The view arguments are named apart from the query parameters other pages take
# (`subject_type`, `subject_id`): the language switch rebuilds a page's URL from both.
@bp.route("/threads/<kind>/<int:ident>")
@login_required
def page(kind: str, ident: int) -> Any:
    return _thread_page(kind, _visible(kind, ident))


@bp.route("/threads/<kind>/<int:ident>/people")
@login_required
def people(kind: str, ident: int) -> Any:
    """The "Tell people (@)" choices of a thread shown under a piece of work, fetched when
    the reader opens them (static/js/mentions.js)."""
    subject = _visible(kind, ident)
    found = mentionable(session(), kind, subject)
    return render_template("threads/_people.html", people=[p for p in found if p.id != actor().id])


@bp.route("/threads/<kind>/<int:ident>", methods=["POST"])
@login_required
def add(kind: str, ident: int) -> Any:
    """Add a comment (with files and mentions) and go back to where it was written."""
    subject_type, subject_id = kind, ident
    _visible(subject_type, subject_id)  # 404 before anything is read or written
    body = request.form.get("body", "")
    uploads = [
        Upload(f.filename or "", f.read()) for f in request.files.getlist("files") if f.filename
    ]
    written: list[Path] = []

    def change() -> Comment:
        comment, paths = operations.add_comment(
            session(),
            actor(),
            subject_type,
            subject_id,
            body,
            uploads=uploads,
            mentions=ids_in(request.form.getlist("mentions")),
            folder=Path(current_app.config["UPLOAD_FOLDER"]),
            max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        )
        written.extend(paths)
        return comment

    def again(errors: dict[str, Any], status: int, **_form: Any) -> Any:
        subject = _visible(subject_type, subject_id)
        return _thread_page(subject_type, subject, status, draft={"body": body}, errors=errors)

    def added(comment: Comment) -> Response:
        flash(_("Your comment is added."), "info")
        return redirect(_back(PAGES[subject_type].format(id=subject_id), comment.id))

    def undo() -> None:
        for path in written:
            path.unlink(missing_ok=True)

    return run_change(
        change, done="", back="", again=again, answer=added, undo=undo, name_fields=True
    )


def _comment(comment_id: int) -> Comment:
    try:
        return operations.visible_comment(session(), actor(), comment_id)
    except Refused:
        abort(404)


@bp.route("/comments/<int:comment_id>/edit", methods=["POST"])
@login_required
def edit(comment_id: int) -> Any:
    """The author rewords their comment; the earlier wording stays in its history."""
    comment = _comment(comment_id)
    return _change_comment(
        comment,
        lambda: operations.edit_comment(session(), actor(), comment, request.form.get("body", "")),
        _("Your comment is changed; the earlier wording is kept."),
    )


@bp.route("/comments/<int:comment_id>/withdraw", methods=["POST"])
@login_required
def withdraw(comment_id: int) -> Any:
    """The author withdraws their comment: it stays in the thread, shown as withdrawn."""
    comment = _comment(comment_id)
    return _change_comment(
        comment,
        lambda: operations.withdraw_comment(session(), actor(), comment),
        _("Your comment is withdrawn."),
    )


def _change_comment(comment: Comment, change: Callable[[], Any], said: str) -> Any:
    """Make `change` to the reader's own `comment` through the pages' one commit, then go back
    to where it stands, saying `said`; a refusal goes back with its reason."""

    def done(_result: Any) -> Response:
        flash(said, "info")
        return redirect(_back(comment_link(comment), comment.id))

    return run_change(
        change,
        done="",
        back="",
        again=lambda **_refused: redirect(_back(comment_link(comment))),
        answer=done,
        error_pages=(404,),
        name_fields=True,
    )


@bp.route("/comments/files/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Response:
    """A comment's file as an attachment, to those who see its thread; 404 for anyone else
    and for the files of a withdrawn comment."""
    row = session().get(CommentAttachment, attachment_id)
    if row is None or row.comment.withdrawn_at is not None:
        abort(404)
    _comment(row.comment_id)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / row.stored_name
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
