"""The staff activity record: who changed what, written in the same transaction as the
change, so a change rolled back leaves no record and a committed one always has one."""

from __future__ import annotations

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import select

from campaign.auth.models import StaffEvent, StaffUser
from campaign.common.types import utcnow
from campaign.extensions import db

COMMAND_LINE = "command line"
RECENT_EVENTS = 200


def record_staff_event(kind: str, subject: str, detail: str = "",
                       by: StaffUser | None = None) -> None:
    """Adds the event to the session; the caller's commit keeps it with the change. It is
    the signed-in staff member's, or `by`'s (a sign-in, before the session has a user),
    or the command line's."""
    actor, staff_user_id = COMMAND_LINE, None
    if by is None and has_request_context() and current_user.is_authenticated:
        by = current_user
    if by is not None:
        actor, staff_user_id = by.email, by.id
    db.session.add(StaffEvent(at=utcnow(), staff_user_id=staff_user_id, actor=actor,
                              kind=kind, subject=subject[:200], detail=detail[:500]))


def recent_staff_events(limit: int = RECENT_EVENTS) -> list[StaffEvent]:
    return list(db.session.scalars(
        select(StaffEvent).order_by(StaffEvent.at.desc(), StaffEvent.id.desc()).limit(limit)))
