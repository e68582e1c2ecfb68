"""The three transition routes every workflow resource has, made by one function:

    GET  /api/v1/<resource>/<id>/transitions          what the caller may do now, and why not
    POST /api/v1/<resource>/<id>/transitions/<name>   take one
    POST /api/v1/<resource>/transitions/<name>        take it on many: {"ids": [...], ...}

A transition runs through service.workflow.engine.take in the request's transaction and is
committed once. `If-Match: <version>` refuses it with 409 when the object changed since the
caller read it; `X-Acting-For: <user id>` uses a delegation held from that user. The bulk
route takes each item in a savepoint of its own, so one refusal leaves the others standing,
and answers item by item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.schemas import MAX_ID, BulkOut, BulkTransitionInput, OptionOut, TransitionInput
from service.api.scoping import get_visible
from service.core.fields import ids_in
from service.core.translate import gettext as _
from service.extensions import db
from service.org.models import User
from service.workflow import engine
from service.workflow.engine import Refused

ID = f"int(max={MAX_ID})"
_VERSION = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')

HEADERS = [
    {
        "in": "header",
        "name": "If-Match",
        "required": False,
        "description": "the version you read; 409 when the object has changed since",
        "schema": {"type": "string", "pattern": '^"?[0-9]{1,9}"?$'},
    },
    {
        "in": "header",
        "name": "X-Acting-For",
        "required": False,
        "description": "act for this user under a delegation they gave you",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    },
]


def expected_version() -> int | None:
    """The version in If-Match, None without the header; Refused(422) when malformed."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = _VERSION.match(header)
    if not match:
        raise Refused(
            422,
            _("If-Match must carry the object's version, e.g. If-Match: 3"),
            fields={"If-Match": _("not a version")},
        )
    return int(match.group(1))


def acting_for(session: Session, user: User) -> User | None:
    """The user named by X-Acting-For, None without the header. The engine checks the
    delegation; an unknown user is refused the same way as one who delegated nothing."""
    header = request.headers.get("X-Acting-For")
    if header is None:
        return None
    header = header.strip()
    ids = ids_in([header]) if header.isascii() else []  # "²" passes isdigit(), not int()
    if not ids:
        raise Refused(
            422,
            _("X-Acting-For must be a user id"),
            fields={"X-Acting-For": _("not a user id")},
        )
    principal = session.get(User, ids[0])
    if principal is None:
        raise engine.no_delegation(int(header))
    return principal


def add_transition_routes(
    blp: Blueprint,
    *,
    workflow: str,
    path: str,
    out_schema: Any,
    present: Callable[[Session, Any], Any],
) -> None:
    """Register the transition routes of `workflow` under /<path> on `blp`; `present` turns
    the changed object into what `out_schema` dumps."""
    names = ",".join(t.name for t in engine.load_workflows()[workflow].transitions)
    noun = workflow.replace("_", " ")

    @blp.route(
        f"/{path}/<{ID}:ident>/transitions",
        endpoint=f"{workflow}_options",
        parameters=HEADERS[1:],
    )
    @blp.response(200, OptionOut(many=True))
    @blp.doc(summary=f"What the caller may do with the {noun} now, each with its reason if not")
    def options(ident: int) -> Any:
        session = db.session()
        user = actor()
        obj = get_visible(session, user, workflow, ident)
        return engine.options(session, user, obj, acting_for=acting_for(session, user))

    @blp.route(
        f"/{path}/<{ID}:ident>/transitions/<any({names}):name>",
        endpoint=f"{workflow}_take",
        methods=["POST"],
        parameters=HEADERS,
    )
    @blp.arguments(TransitionInput)
    @blp.response(200, out_schema)
    @blp.doc(summary=f"Take a transition of the {noun}; answers the {noun} in its new state")
    @commits
    def take(data: dict[str, Any], ident: int, name: str) -> Any:
        session = db.session()
        user = actor()
        obj = engine.take(
            session,
            user,
            workflow,
            ident,
            name,
            data,
            acting_for=acting_for(session, user),
            expected_version=expected_version(),
        )
        return present(session, obj)

    @blp.route(
        f"/{path}/transitions/<any({names}):name>",
        endpoint=f"{workflow}_bulk",
        methods=["POST"],
        parameters=HEADERS[1:],
    )
    @blp.arguments(BulkTransitionInput)
    @blp.response(200, BulkOut)
    @blp.doc(summary=f"Take one transition on many {noun}s, each on its own, answered per item")
    @commits
    def bulk(data: dict[str, Any], name: str) -> Any:
        session = db.session()
        user = actor()
        principal = acting_for(session, user)
        ids = data.pop("ids")
        versions: dict[int, int] = {}
        for read in data.pop("versions", []):
            known = versions.setdefault(read["id"], read["version"])
            if known != read["version"]:
                versions[read["id"]] = -1  # read at two versions: neither is the one to act on
        results = []
        for outcome in engine.take_each(
            session,
            user,
            workflow,
            ids,
            name,
            data,
            acting_for=principal,
            expected_versions=versions,
        ):
            refused = outcome.refused
            if refused is None:
                state = outcome.obj.state.value
                results.append({"id": outcome.ident, "ok": True, "status": 200, "state": state})
            else:
                item: dict[str, Any] = {"id": outcome.ident, "ok": False}
                item["status"] = refused.status
                item.update(detail=refused.reason, state=refused.state, errors=refused.fields)
                results.append(item)
        return {"results": results}
