from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
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
    # Part of the id a sign-in session carries: raising it signs out every session of the
    # account (a new password, a deactivation), since the cookie alone would outlive both.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

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
