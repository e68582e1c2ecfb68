"""/api/v1/tokens: personal API tokens, made by a user for themself, shown once. Making and
revoking one are the operations the /admin/tokens page calls (service.admin.operations).

/api/v1/me/sessions: the caller's own signed-in browsers, and ending one, through the query
and the operation the /account page uses."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select

from service.admin import operations as admin_operations
from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.schemas import Presented
from service.api.transitions import ID
from service.auth import operations as auth_operations
from service.auth.models import ApiToken, UserSession
from service.auth.schemas import NewTokenOut, SessionOut, TokenCreate, TokenOut
from service.auth.sessions import (
    current_session,
    describe_device,
    open_sessions,
    second_factor_given,
)
from service.extensions import db
from service.workflow.engine import missing

blp = Blueprint(
    "api_tokens", __name__, url_prefix="/api/v1", description="Personal API tokens and sessions"
)


@blp.route("/tokens")
@blp.response(200, TokenOut(many=True))
@blp.doc(summary="The caller's tokens (never the tokens themselves, only their prefixes)")
def list_tokens() -> Any:
    user = actor()
    return db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).all()


@blp.route("/tokens", methods=["POST"])
@blp.arguments(TokenCreate)
@blp.response(201, NewTokenOut)
@blp.doc(summary="Make a token: the answer is the only time it is shown")
@commits
def create_token(data: dict[str, Any]) -> Any:
    user = actor()
    # A token cannot vouch for a second factor; a browser session that gave one can.
    proved = g.get("api_auth") == "session" and second_factor_given()
    row, token = admin_operations.create_token(
        db.session(), user, user, data["name"], proved_second_factor=proved
    )
    return Presented(row, token=token)


@blp.route(f"/tokens/<{ID}:ident>", methods=["DELETE"])
@blp.response(204)
@blp.doc(summary="Revoke a token (kept, stamped revoked)")
@commits
def revoke_token(ident: int) -> Any:
    session = db.session()
    user = actor()
    row = session.get(ApiToken, ident)
    if row is None or row.user_id != user.id:
        raise missing("api_token", ident)
    admin_operations.revoke_token(session, user, row)
    return None


@blp.route("/me/sessions")
@blp.response(200, SessionOut(many=True))
@blp.doc(summary="The caller's sessions not ended (device, address, last seen), latest first")
def list_my_sessions() -> Any:
    user = actor()
    this = current_session() if g.get("api_auth") == "session" else None
    return [
        Presented(
            row,
            device=describe_device(row.user_agent),
            current=this is not None and row.id == this.id,
        )
        for row in open_sessions(db.session(), user)
    ]


@blp.route(f"/me/sessions/<{ID}:ident>/end", methods=["POST"])
@blp.response(204)
@blp.doc(summary="End one of the caller's sessions (that browser is signed out)")
@commits
def end_my_session(ident: int) -> Any:
    session = db.session()
    user = actor()
    row = session.get(UserSession, ident)
    if row is None:
        raise missing("user_session", ident)
    auth_operations.end_session(session, user, row)
    return None
