"""Staff sessions kept on the server: a sign-in starts one, and a cookie is honoured only
while its session has not ended (signed out, idle, too old, a new password, a
deactivation). The cookie is signed, so it cannot be forged, but a signature alone
cannot be taken back: this table can."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from campaign.auth.models import StaffSession, StaffUser
from campaign.common.tokens import token_digest
from campaign.common.types import utcnow
from campaign.extensions import db

# last_seen_at is written at most this often per session: a busy staff page costs one
# indexed read per request, and the idle timeout is exact to within this.
LAST_SEEN_EVERY = timedelta(minutes=1)


class EndReason:
    SIGNED_OUT = "signed_out"
    PASSWORD = "password"
    DEACTIVATED = "deactivated"
    IDLE = "idle"
    EXPIRED = "expired"


def start_staff_session(user: StaffUser, *, lifetime: timedelta) -> str:
    """Starts a session for `user` and returns its token, for the cookie only. The
    account's sessions older than `lifetime` (ended either way) are deleted. Flushes;
    the caller commits."""
    now = utcnow()
    db.session.execute(delete(StaffSession).where(
        StaffSession.staff_user_id == user.id, StaffSession.created_at < now - lifetime))
    token = secrets.token_urlsafe(32)
    db.session.add(StaffSession(token_hash=token_digest(token), staff_user_id=user.id,
                                created_at=now, last_seen_at=now))
    db.session.flush()
    return token


def end_staff_session(token: str, reason: str = EndReason.SIGNED_OUT) -> None:
    """Flushes; the caller commits."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == token_digest(token), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason))


def end_sessions_of(user: StaffUser, reason: str) -> None:
    """Ends every session of the account. Flushes; the caller commits."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.staff_user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason))


def staff_session_user(token: str, *, idle: timedelta, lifetime: timedelta,
                       on_timeout: Callable[[str], None] | None = None,
                       now: datetime | None = None) -> StaffUser | None:
    """The active account whose session `token` names, if the session is still on; None
    otherwise. A session found idle or too old is ended for good, and `on_timeout` told
    why (EndReason.IDLE or EXPIRED), once.

    Its two writes (the end, and last_seen_at) go through a connection of their own and
    commit there: the request's own transaction belongs to its view, which may roll back.
    """
    now = now or utcnow()
    found = db.session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
        .where(StaffSession.token_hash == token_digest(token))).one_or_none()
    if found is None:
        return None
    staff_session, user = found
    if staff_session.ended_at is not None or not user.is_active:
        return None
    ending = (EndReason.EXPIRED if now - staff_session.created_at >= lifetime
              else EndReason.IDLE if now - staff_session.last_seen_at >= idle
              else None)
    if ending is not None:
        _write_apart(staff_session.id, ended_at=now, end_reason=ending)
        if on_timeout is not None:
            on_timeout(ending)
        return None
    if now - staff_session.last_seen_at >= LAST_SEEN_EVERY:
        _write_apart(staff_session.id, last_seen_at=now)
    user.session_token = token
    return user


def _write_apart(staff_session_id: int, **values: object) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            update(StaffSession)
            .where(StaffSession.id == staff_session_id, StaffSession.ended_at.is_(None))
            .values(**values))
