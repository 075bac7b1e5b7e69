from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from campaign.common.types import UTCDateTime, utcnow
from campaign.extensions import db


class StaffUser(UserMixin, db.Model):
    """Someone who runs campaigns: signs in to the staff pages."""

    __tablename__ = "staff_users"
    __table_args__ = (
        # Stored lower case, so the unique constraint is case-insensitive on every backend.
        CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # werkzeug.security's "method$salt$hash"; never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    # Overrides UserMixin's property: Flask-Login refuses to sign in an inactive account.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Admins may also do what cannot be undone or reads everyone's doings: erase a
    # supporter, and see the activity record. Everyone else edits pages, letters, lists.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The token of the sign-in this request runs under (a StaffSession's), set at sign-in
    # and by the user loader; not a column.
    session_token = None

    def get_id(self) -> str:
        # What Flask-Login keeps in the signed cookie (and would put in a remember-me
        # cookie): the session's token, never the account's id, so that ending the
        # session on the server ends every copy of the cookie.
        if self.session_token is None:
            raise RuntimeError("a staff user is signed in only through a StaffSession")
        return self.session_token

    def __repr__(self) -> str:
        return f"<StaffUser {self.id} {self.email!r}>"


class StaffEvent(db.Model):
    """What a staff member (or an operator at the command line) changed, and when: kept
    with the change itself, in its transaction. It names supporters by id only, so an
    erasure's record holds nothing of what was erased."""

    __tablename__ = "staff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"))
    # Who, as they were called then: the account's email, or "command line".
    actor: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(String(500), default="")


class StaffSession(db.Model):
    """One sign-in of a staff account, from sign-in to its end.

    The signed session cookie carries a random token; only its hash is stored, so the
    table read by someone else signs nobody in. A session ends at sign-out, a new
    password, a deactivation, after STAFF_SESSION_IDLE_MINUTES without a request or
    STAFF_SESSION_MAX_HOURS after sign-in; an ended session's cookie is refused even
    though its signature is still good.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the token, hex: the token is 256 random bits, so no salt or slow hash.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moved forward at most once a minute (LAST_SEEN_EVERY), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # signed_out, password, deactivated, idle or expired.
    end_reason: Mapped[str] = mapped_column(String(20), default="")
