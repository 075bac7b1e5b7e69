"""Staff accounts: creating them, checking a sign-in, new passwords and deactivation."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app, flash
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from campaign.auth.models import StaffUser
from campaign.auth.sessions import EndReason, end_sessions_of, staff_session_user
from campaign.common.text import has_control_characters, normalise_email
from campaign.common.types import utcnow
from campaign.extensions import db

PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 12
# Hashing is deliberately slow; a megabyte-long "password" must not make it slower.
MAX_PASSWORD_LENGTH = 1024


class StaffError(ValueError):
    """The message is fit to show whoever is creating the account."""


class WrongPassword(StaffError):
    """A password was checked and is not the account's."""


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters.")
    if has_control_characters(password):
        # Nobody types them; they come from a paste gone wrong or a script's bug, and
        # could not be typed at the sign-in form either.
        raise StaffError("The password may not contain control characters (such as NUL, a "
                         "tab or a line break).")
    return password


def create_staff_user(email: str, *, name: str, password: str,
                      is_admin: bool = False) -> StaffUser:
    """Adds a staff account; StaffError says what is wrong. Flushes; the caller commits."""
    try:
        email = validate_email(normalise_email(email), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise StaffError(f"That email address is not valid: {error}") from None
    email = email.lower()
    name = (name or "").strip()
    if not name or len(name) > 200 or has_control_characters(name):
        raise StaffError("Please give a name of one line, up to 200 characters.")
    check_password(password)
    if find_staff_user(email) is not None:
        raise StaffError(f"There is already a staff account for {email}.")
    user = StaffUser(email=email, name=name, is_active=True, is_admin=is_admin,
                     password_hash=_hash(password))
    db.session.add(user)
    db.session.flush()
    return user


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def staff_user_or_error(email: str) -> StaffUser:
    user = find_staff_user(email)
    if user is None:
        raise StaffError(f"There is no staff account for {normalise_email(email)}.")
    return user


def list_staff_users() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.email)))


def set_password(user: StaffUser, password: str) -> None:
    """Gives the account a new password and ends all its sessions (the caller may start
    one afresh for the browser that asked). Flushes; the caller commits."""
    user.password_hash = _hash(check_password(password))
    end_sessions_of(user, EndReason.PASSWORD)
    db.session.flush()


def change_own_password(user: StaffUser, current_password: str, new_password: str) -> None:
    """A signed-in staff member's own change: the current password must be right."""
    if (len(current_password) > MAX_PASSWORD_LENGTH
            or not check_password_hash(user.password_hash, current_password)):
        raise WrongPassword("Your current password is not right.")
    if new_password == current_password:
        raise StaffError("The new password must differ from the current one.")
    set_password(user, new_password)


def set_active(user: StaffUser, active: bool) -> None:
    """Deactivating signs the account out everywhere at once and refuses its sign-ins;
    its history (who did what) stays. Flushes; the caller commits."""
    if user.is_active == active:
        return
    user.is_active = active
    if not active:
        end_sessions_of(user, EndReason.DEACTIVATED)
    db.session.flush()


def has_active_admin(besides: StaffUser | None = None) -> bool:
    """Whether an active admin account exists, other than `besides`."""
    query = select(StaffUser.id).where(StaffUser.is_admin.is_(True),
                                       StaffUser.is_active.is_(True))
    if besides is not None:
        query = query.where(StaffUser.id != besides.id)
    return db.session.scalar(query.limit(1)) is not None


def set_admin(user: StaffUser, is_admin: bool) -> None:
    """Flushes; the caller commits. The last active admin cannot stop being one: someone
    must be able to act on an erasure request."""
    if user.is_admin and not is_admin:
        if not has_active_admin(besides=user):
            raise StaffError(f"{user.email} is the only active admin; make another account "
                             "admin first.")
    user.is_admin = is_admin
    db.session.flush()


def find_staff_user(email: str) -> StaffUser | None:
    return db.session.scalars(
        select(StaffUser).where(StaffUser.email == normalise_email(email))).one_or_none()


def load_staff_user(session_token: str) -> StaffUser | None:
    """Flask-Login's user loader (so, unlike the rest of this module, it runs in a request),
    for the session cookie and a remember-me cookie alike: both carry a StaffSession's
    token (`StaffUser.get_id`), honoured while that session is on (see
    campaign.auth.sessions). A session that just timed out says so on the sign-in page."""
    config = current_app.config
    idle_minutes, max_hours = (config["STAFF_SESSION_IDLE_MINUTES"],
                               config["STAFF_SESSION_MAX_HOURS"])

    def say_why(reason: str) -> None:
        flash(f"You were signed out after {idle_minutes} minutes without activity."
              if reason == EndReason.IDLE else
              f"You were signed out: a sign-in lasts {max_hours} hours at most.", "info")

    return staff_session_user(str(session_token), idle=timedelta(minutes=idle_minutes),
                              lifetime=timedelta(hours=max_hours), on_timeout=say_why)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hash("not anyone's password")


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active account with this email and password, its last sign-in recorded; None
    for anything else. Flushes; the caller commits.

    An unknown email costs a hash check too, so timing doesn't tell which emails have
    accounts.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    user = find_staff_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.is_active:
        return None
    user.last_login_at = utcnow()
    db.session.flush()
    return user
