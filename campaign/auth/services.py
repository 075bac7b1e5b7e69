"""Staff accounts: creating them and checking a sign-in."""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from campaign.auth.models import StaffUser
from campaign.common.text import has_control_characters, normalise_email
from campaign.common.types import utcnow
from campaign.extensions import db

PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 12
# Hashing is deliberately slow; a megabyte-long "password" must not make it slower.
MAX_PASSWORD_LENGTH = 1024


class StaffError(ValueError):
    """The message is fit to show whoever is creating the account."""


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters.")
    return password


def create_staff_user(email: str, *, name: str, password: str) -> StaffUser:
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
    user = StaffUser(email=email, name=name, is_active=True,
                     password_hash=generate_password_hash(password, method=PASSWORD_METHOD))
    db.session.add(user)
    db.session.flush()
    return user


def find_staff_user(email: str) -> StaffUser | None:
    return db.session.scalars(
        select(StaffUser).where(StaffUser.email == normalise_email(email))).one_or_none()


def load_staff_user(user_id: str) -> StaffUser | None:
    """Flask-Login's user loader: a deactivated account is signed out on its next request."""
    try:
        user = db.session.get(StaffUser, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.is_active else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not anyone's password", method=PASSWORD_METHOD)


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
