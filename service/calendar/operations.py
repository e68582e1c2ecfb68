"""Making, renewing and revoking a person's calendar feed. Each flushes and records an audit
row; the caller commits."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.auth import hash_token
from service.audit.operations import record
from service.calendar.models import CalendarFeed
from service.core.db import utcnow
from service.org.models import User

FEED_PREFIX = "cal_"
#: A fetch stamps `last_used_at` at most this often (calendar apps poll every few minutes).
USE_STAMP_EVERY = timedelta(hours=1)


def feed_of(session: Session, user: User) -> CalendarFeed | None:
    """The person's feed in force, if any."""
    return session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
        )
    )


def _revoke(session: Session, actor: User, feed: CalendarFeed) -> None:
    feed.revoked_at = utcnow()
    session.flush()
    record(
        session,
        action="calendar_feed.revoke",
        object_type="app_user",
        object_id=feed.user_id,
        actor=actor,
        changes={"feed_id": feed.id, "prefix": feed.prefix},
    )


def renew_feed(session: Session, actor: User) -> tuple[CalendarFeed, str]:
    """A new feed URL token for `actor`, revoking the one in force (its URL answers 404 from
    now on). Returns the row (the token's hash only) and the token, shown once."""
    current = feed_of(session, actor)
    if current is not None:
        _revoke(session, actor, current)
    token = FEED_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=actor.id, token_hash=hash_token(token), prefix=token[:12])
    session.add(feed)
    session.flush()
    record(
        session,
        action="calendar_feed.create",
        object_type="app_user",
        object_id=actor.id,
        actor=actor,
        changes={"feed_id": feed.id, "prefix": feed.prefix},
    )
    return feed, token


def revoke_feed(session: Session, actor: User) -> bool:
    """Revoke `actor`'s feed in force; False when there was none (nothing changes)."""
    current = feed_of(session, actor)
    if current is None:
        return False
    _revoke(session, actor, current)
    return True


def feed_by_token(session: Session, token: str) -> CalendarFeed | None:
    """The feed in force for `token`, whose owner is active; None for anything else (an
    unknown, revoked or malformed token, or a deactivated person)."""
    if not token.startswith(FEED_PREFIX) or len(token) > 100:
        return None
    feed = session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == hash_token(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    if feed is None or not feed.user.active:
        return None
    return feed


def stamp_use(feed: CalendarFeed) -> bool:
    """Note that the feed was fetched (at most once per `USE_STAMP_EVERY`); True when it
    changed the row."""
    now = utcnow()
    if feed.last_used_at is not None and now - feed.last_used_at < USE_STAMP_EVERY:
        return False
    feed.last_used_at = now
    return True
