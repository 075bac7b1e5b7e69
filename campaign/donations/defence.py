"""Card-testing defence before any PaymentIntent exists: per-address and per-email
velocity, the honeypot, the page minimum, a cap on failed confirmations per visitor and
the proof-of-work (campaign.donations.challenge). Every refusal is counted per page, day
and reason (GiftBlockCount) for staff; nothing counted names a person."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import func, select

from campaign.common.sql import upsert_insert
from campaign.common.types import utcnow
from campaign.donations import attempts
from campaign.donations.models import GiftAttempt, GiftBlockCount
from campaign.extensions import db
from campaign.pages import services

RATE = "rate"
EMAIL_RATE = "email_rate"
HONEYPOT = "honeypot"
CHALLENGE = "challenge"
FAILURES = "failures"
AMOUNT = "amount"


def visitor_key() -> str:
    """A keyed hash of the client's address: counts per visitor without keeping the
    address (the key is derived from SECRET_KEY, so the hash can't be looked up)."""
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"campaign/gift-visitor",
                   hashlib.sha256).digest()
    return hmac.new(key, (request.remote_addr or "").encode(), hashlib.sha256).hexdigest()


def record_block(page_id: int, reason: str) -> None:
    """Counts one refused attempt. Flushes; the caller commits."""
    insert = upsert_insert(db.engine.dialect.name)
    statement = insert(GiftBlockCount).values(
        action_page_id=page_id, day=utcnow().date(), reason=reason, blocked=1)
    statement = statement.on_conflict_do_update(
        index_elements=["action_page_id", "day", "reason"],
        set_={"blocked": GiftBlockCount.blocked + statement.excluded.blocked})
    db.session.execute(statement)


def email_over_limit(email: str) -> bool:
    """Has this address started GIFT_ATTEMPTS_PER_EMAIL_HOUR attempts in the last hour?"""
    since = utcnow() - timedelta(hours=1)
    started = db.session.scalar(select(func.count()).select_from(GiftAttempt).where(
        GiftAttempt.email == email, GiftAttempt.created_at >= since))
    return started >= current_app.config["GIFT_ATTEMPTS_PER_EMAIL_HOUR"]


def failures_over_cap(key: str) -> bool:
    """Have this visitor's attempts of the last hour had GIFT_FAILED_CONFIRMATIONS_PER_HOUR
    failed confirmations (declines, failed 3-D Secure) between them?"""
    since = utcnow() - timedelta(hours=1)
    failed = db.session.scalar(
        select(func.coalesce(func.sum(GiftAttempt.failed_confirmations), 0)).where(
            GiftAttempt.visitor_key == key, GiftAttempt.created_at >= since))
    return failed >= current_app.config["GIFT_FAILED_CONFIRMATIONS_PER_HOUR"]


def gift_rate_limit() -> str:
    """The per-address limit of the amount step and of the start call."""
    return current_app.config["GIFT_RATE_LIMIT"]


def count_rate_block(_limit) -> None:
    """on_breach of the per-address limits (GIFT_RATE_LIMIT): counted under the page the
    request was for. Commits, as the request ends here."""
    page_id = None
    args = request.view_args or {}
    if "slug" in args:
        page = services.load_page_view(args["slug"])
        page_id = page.id if page is not None else None
    elif "token" in args:
        attempt = attempts.attempt_for_token(args["token"])
        page_id = attempt.action_page_id if attempt else None
    if page_id is not None:
        record_block(page_id, RATE)
        db.session.commit()
