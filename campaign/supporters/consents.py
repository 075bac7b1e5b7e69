"""Confirming a consent: the address's owner, and nobody who merely typed it, opts in.

Ticking the box records a pending consent. The thank-you email carries a link with a
random token (only its sha256 is stored, with an expiry); the link's page changes
nothing when it is fetched, as mail scanners and link previews do, and its button's POST
confirms.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from campaign.common.tokens import token_digest
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.supporters.models import Consent
from campaign.supporters.services import EMAIL_UPDATES


def issue_confirmation(supporter_id: int, page_id: int, expires_in: timedelta) -> str | None:
    """A new confirmation token for the supporter's pending email-updates consent on the
    page, or None when there is none. A token issued before stops working: only the
    latest email's link confirms. Flushes; the caller commits before sending."""
    consent = db.session.scalars(
        select(Consent).where(Consent.supporter_id == supporter_id,
                              Consent.action_page_id == page_id,
                              Consent.kind == EMAIL_UPDATES, Consent.confirmed_at.is_(None))
        .order_by(Consent.id.desc()).limit(1)).one_or_none()
    if consent is None:
        return None
    token = secrets.token_urlsafe(32)
    consent.confirm_token_hash = token_digest(token)
    consent.confirm_expires_at = utcnow() + expires_in
    db.session.flush()
    return token


def pending_consent(token: str, now: datetime | None = None) -> Consent | None:
    """The unconfirmed consent this token confirms, if it is still valid."""
    now = now or utcnow()
    return db.session.scalars(
        select(Consent).where(Consent.confirm_token_hash == token_digest(token),
                              Consent.confirmed_at.is_(None),
                              Consent.confirm_expires_at > now)).one_or_none()


def confirm_consent(token: str) -> bool:
    """Confirms the consent the token belongs to and spends the token; False when the
    token is unknown, spent or expired. Flushes; the caller commits."""
    now = utcnow()
    result = db.session.execute(
        update(Consent)
        .where(Consent.confirm_token_hash == token_digest(token),
               Consent.confirmed_at.is_(None), Consent.confirm_expires_at > now)
        .values(confirmed_at=now, confirm_token_hash=None, confirm_expires_at=None)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1
