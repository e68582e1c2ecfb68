"""The API's blueprint class: flask-smorest's, with unknown query parameters refused like
unknown body fields (webargs ignores them by default, so `?fiscalyear=2566` would silently
list every year); and `commits`, the one commit of a request that changes something (with
`commit_or_remove` and `commit_then` for changes that touch files too)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

from service.extensions import db

Handler = TypeVar("Handler", bound=Callable[..., Any])


def commits(handler: Handler) -> Handler:
    """Commit once when `handler` returns: the handler calls the change's operation (which
    flushes, records and emits, and never commits) and the request commits it here, before
    the answer is serialised. A raise commits nothing (the session is rolled back when the
    request's context ends)."""

    @wraps(handler)
    def committing(*args: Any, **kwargs: Any) -> Any:
        result = handler(*args, **kwargs)
        db.session.commit()
        return result

    return committing  # type: ignore[return-value]


def commit_or_remove(written: Iterable[Path]) -> None:
    """`commits` for a change that wrote files (evidence, attachments): commit, and when the
    commit fails, roll back and remove the files, which no row names then."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        raise


def commit_then(let_go: Callable[[], None]) -> None:
    """`commits` for a change that consumed something outside the database (an uploaded plan's
    preview file): commit, and only then `let_go()` of it; when the commit fails it is kept,
    so the caller can try again."""
    db.session.commit()
    let_go()


class StrictParser(FlaskParser):
    # None: each schema's own Meta.unknown (RAISE) decides, in the query string too.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()
