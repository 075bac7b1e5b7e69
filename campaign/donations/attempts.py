"""Gift attempts: a donor's way from the amount step to the outcome of the card step."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from campaign.common.tokens import token_digest
from campaign.common.types import utcnow
from campaign.donations.models import AttemptStatus, GiftAttempt
from campaign.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GiftChoice:
    page_id: int
    email: str
    first_name: str
    last_name: str
    amount: int
    fee_amount: int
    currency: str
    frequency: str
    tribute_kind: str = ""
    tribute_name: str = ""
    tribute_notify_email: str = ""
    source: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    visitor_key: str = ""


def start_attempt(choice: GiftChoice) -> tuple[GiftAttempt, str]:
    """A new attempt and the secret token of its card step (only the token's digest is
    stored). Flushes; the caller commits."""
    token = secrets.token_urlsafe(32)
    attempt = GiftAttempt(
        token_digest=token_digest(token), action_page_id=choice.page_id, email=choice.email,
        first_name=choice.first_name, last_name=choice.last_name, amount=choice.amount,
        fee_amount=choice.fee_amount, currency=choice.currency, frequency=choice.frequency,
        tribute_kind=choice.tribute_kind, tribute_name=choice.tribute_name,
        tribute_notify_email=choice.tribute_notify_email, source=choice.source[:40],
        utm_source=choice.utm_source, utm_medium=choice.utm_medium,
        utm_campaign=choice.utm_campaign, visitor_key=choice.visitor_key,
        status=AttemptStatus.OPEN.value)
    db.session.add(attempt)
    db.session.flush()
    return attempt, token


def attempt_for_token(token: str, *, lock: bool = False) -> GiftAttempt | None:
    if not token or len(token) > 100:
        return None
    query = select(GiftAttempt).where(GiftAttempt.token_digest == token_digest(token))
    if lock:
        # Two tabs (or a double click) starting the same payment wait for each other.
        query = query.with_for_update()
    return db.session.scalars(query).one_or_none()


def mark_processing(attempt: GiftAttempt) -> None:
    if attempt.status == AttemptStatus.OPEN.value:
        attempt.status = AttemptStatus.PROCESSING.value


def stripe_key(attempt: GiftAttempt) -> str:
    """What the idempotency keys of this attempt's Stripe objects are made from: its id and
    the start of its token's digest (the digest, not the token, so the key opens nothing).
    An id alone repeats across a restored or a second database on one Stripe account."""
    return f"{attempt.id}-{attempt.token_digest[:16]}"


def mark_succeeded(attempt: GiftAttempt, paid: Any) -> None:
    """The one place a gift becomes successful: `paid` is the succeeded PaymentIntent
    (one-time) or the active subscription (monthly), as a dict of what Stripe returned.
    Flushes; the caller commits.

    Being the one place, it is where the ledger's rows (a Donation per charge, a
    MonthlyGift per subscription) are written from the same object as the webhook
    writes them from, so that the thank-you page and the thermometer need not wait for
    Stripe's event."""
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return
    attempt.status = AttemptStatus.SUCCEEDED.value
    attempt.completed_at = utcnow()
    attempt.last_error = ""
    db.session.flush()
    _record_in_ledger(paid)


def _record_in_ledger(paid: dict) -> None:
    """Writes the ledger from what Stripe just answered, as the webhook will. Both end in
    the same rows (the ledger's merges are keyed by Stripe's ids), so whichever comes
    second changes nothing. If Stripe cannot be reached for the first invoice, the
    webhook's event records it a moment later; the donor's success stands either way."""
    from campaign.donations import ledger
    from campaign.donations.gateway import StripeError, gateway, object_id

    try:
        with db.session.begin_nested():
            if paid.get("object") == "subscription":
                ledger.record_subscription(paid)
                invoice_id = object_id(paid.get("latest_invoice"))
                if invoice_id:
                    ledger.record_invoice_payment(gateway().retrieve_invoice(invoice_id))
            else:
                ledger.record_payment_intent(paid)
    except StripeError as error:
        log.warning("gift %s: ledger left to the webhook (%s)", paid.get("id"),
                    type(error).__name__)


def ask_for_queued_emails() -> None:
    """After the commit: the receipts (and tribute notices) the ledger queued go out."""
    from campaign import outbox
    from campaign.donations.donor_emails import DONOR_EMAILS_DRAIN
    from campaign.donations.ledger import EMAILS_QUEUED

    if db.session.info.pop(EMAILS_QUEUED, False):
        outbox.request_soon(DONOR_EMAILS_DRAIN)


def record_failed_confirmation(attempt: GiftAttempt, message: str, failure_id: str) -> bool:
    """A declined card or failed 3-D Secure, counted against the visitor's cap once per
    failure (`failure_id`: the failed card's PaymentMethod, which Stripe makes anew for
    each card tried), however often the browser or a retry reports it. Flushes; the
    caller commits. True when it was counted now."""
    marker = f"[{failure_id}]"
    if attempt.last_error.endswith(marker):
        return False
    attempt.failed_confirmations += 1
    attempt.last_error = message[:300 - len(marker) - 1] + " " + marker
    db.session.flush()
    return True
