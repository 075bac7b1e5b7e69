"""The ledger: donations and monthly gifts written from Stripe's own objects.

Every writer here merges what Stripe says into our row in a way that ends the same however
often, and in whatever order, the news arrives: rows are keyed by Stripe's ids, refunded
amounts only grow, and state that can go back and forth is taken from the object as Stripe
holds it now (re-fetched), or from the newest event that carried it.

- A Donation is inserted with ON CONFLICT DO NOTHING on its PaymentIntent: of two workers
  applying news of one payment, one inserts (and queues the receipt), the other finds it.
- A monthly gift's row is locked (FOR UPDATE) before it changes, so two events about one
  gift are merged one after the other.
- Counted things are counted from sets: a gift's failures are the failed payment attempts
  (one dunning email each, keyed by invoice and attempt) of invoices not paid since.
- A cancelled gift stays cancelled, a next charge date only moves later, an end date only
  earlier, and a dispute's state is the newest event's.

Each function works in the caller's session and never commits. When it queued a donor
email, `session.info["donor_emails_queued"]` is set: the caller asks for a run of the
donor emails' drain after its commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from campaign.common.sql import upsert_insert
from campaign.common.text import normalise_email
from campaign.common.types import utcnow
from campaign.donations.donor_emails import queue_donor_email
from campaign.donations.gateway import (
    InvalidRequestError,
    as_dict,
    gateway,
    invoice_payment_intent_id,
    invoice_period_end,
    invoice_subscription_id,
    object_id,
    subscription_period_end,
    subscription_quantity,
)
from campaign.donations.models import (
    AttemptStatus,
    Donation,
    DonationStatus,
    DonorEmail,
    DonorEmailKind,
    Frequency,
    GiftAttempt,
    MonthlyGift,
    MonthlyGiftStatus,
)
from campaign.extensions import db
from campaign.pages.models import ActionPage
from campaign.supporters.models import Supporter

CANCELLED_AT_STRIPE = "cancelled at Stripe"
EMAILS_QUEUED = "donor_emails_queued"

# Stripe's subscription states in our four.
SUBSCRIPTION_STATUS = {
    "trialing": MonthlyGiftStatus.ACTIVE, "active": MonthlyGiftStatus.ACTIVE,
    "past_due": MonthlyGiftStatus.PAST_DUE, "unpaid": MonthlyGiftStatus.PAST_DUE,
    "paused": MonthlyGiftStatus.PAST_DUE,
    "canceled": MonthlyGiftStatus.CANCELED, "incomplete_expired": MonthlyGiftStatus.CANCELED,
    "incomplete": MonthlyGiftStatus.INCOMPLETE,
}

# A dispute's states that end it: of two events with the same `created` second, the one
# saying it ended is the newer.
DISPUTE_CLOSED = {"won", "lost", "warning_closed", "charge_refunded", "prevented"}


class NotYetKnown(RuntimeError):
    """The event names a payment neither the ledger nor Stripe knows yet: it is tried again
    later (the news that creates it may still be on its way)."""


# -- the events ----------------------------------------------------------------------------

def apply_event(payload: str) -> None:
    """Applies one verified event to the ledger, in the caller's transaction."""
    event = json.loads(payload)
    handler = HANDLERS.get(event.get("type", ""))
    if handler is not None:
        handler(event, as_dict((event.get("data") or {}).get("object")))


def _payment_succeeded(event: dict, pi: dict) -> None:
    current, _ = _current(gateway().retrieve_payment_intent, pi.get("id"), pi)
    record_payment_intent(current)


def _payment_failed(event: dict, pi: dict) -> None:
    # Nothing for the ledger: no money moved. The attempt keeps the decline's code for
    # staff (never the card's details), unless it has succeeded since.
    attempt = _attempt(pi.get("metadata"))
    if attempt is not None and attempt.status in (AttemptStatus.OPEN.value,
                                                  AttemptStatus.PROCESSING.value):
        code = (pi.get("last_payment_error") or {}).get("code") or "failed"
        attempt.last_error = f"payment failed: {code}"[:300]


def _invoice_paid(event: dict, invoice: dict) -> None:
    current, _ = _current(gateway().retrieve_invoice, invoice.get("id"), invoice)
    record_invoice_payment(current if current.get("status") == "paid" else invoice)


def _invoice_payment_failed(event: dict, invoice: dict) -> None:
    current, known = _current(gateway().retrieve_invoice, invoice.get("id"), invoice)
    if known and current.get("status") == "paid":  # paid since: no failure to count
        record_invoice_payment(current)
        return
    gift = _gift_for_subscription(invoice_subscription_id(invoice))
    if gift is None:
        return
    # The event's own attempt count: this event is that attempt (a re-fetched invoice
    # would give the latest count for every failure event of it).
    attempt = int(invoice.get("attempt_count") or 1)
    _queue(DonorEmailKind.DUNNING, f"dunning:{invoice['id']}:{attempt}",
           monthly_gift_id=gift.id, supporter_id=gift.supporter_id)
    _count_failures(gift)


def _charge_refunded(event: dict, charge: dict) -> None:
    current, known = _current(gateway().retrieve_charge, charge.get("id"), charge)
    donation = _donation_for_charge(current, known)
    if donation is not None:
        # Refunds only grow: the larger of Stripe's figure now and the event's is the truth.
        apply_charge_refunds(donation, current)
        apply_charge_refunds(donation, charge)


def _dispute(event: dict, dispute: dict) -> None:
    # Disputes are taken from the event (newest event wins): their state moves both ways
    # (under review, then won or lost), and each event carries the state as it was then.
    charge_id = object_id(dispute.get("charge"))
    donation = _donation_by(pi_id=object_id(dispute.get("payment_intent")), charge_id=charge_id)
    if donation is None and charge_id:
        current, known = _current(gateway().retrieve_charge, charge_id,
                                  {"id": charge_id,
                                   "payment_intent": dispute.get("payment_intent")})
        donation = _donation_for_charge(current, known)
    if donation is None:
        return
    created = int(event.get("created") or 0)
    status = str(dispute.get("status") or "")
    if (created, status in DISPUTE_CLOSED) > (donation.dispute_event_created,
                                              donation.dispute_status in DISPUTE_CLOSED):
        donation.dispute_status = status[:30]
        donation.dispute_amount = int(dispute.get("amount") or 0)
        donation.dispute_event_created = created


def _subscription_changed(event: dict, sub: dict) -> None:
    current, _ = _current(gateway().retrieve_subscription, sub.get("id"), sub)
    record_subscription(current)


HANDLERS: dict[str, Callable[[dict, dict], None]] = {
    "payment_intent.succeeded": _payment_succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}
HANDLED_EVENTS = sorted(HANDLERS)  # what the webhook endpoint is registered for


# -- payments ------------------------------------------------------------------------------

def record_payment_intent(pi: Any) -> Donation | None:
    """The Donation of a succeeded PaymentIntent, made once: a one-time gift's (its
    metadata names the attempt) or a monthly gift's invoice's. None when it has not
    succeeded or is not a gift of ours."""
    pi = as_dict(pi)
    if pi.get("status") != "succeeded" or not pi.get("id"):
        return None
    donation = _donation_by(pi_id=pi["id"])
    charge = _charge_of(pi)
    if donation is not None:
        apply_charge_refunds(donation, charge)
        return donation
    attempt_id = _int((pi.get("metadata") or {}).get("gift_attempt"))
    if attempt_id is None:
        # An invoice's PaymentIntent carries no metadata; invoice.paid records it, and on
        # older API shapes the PaymentIntent names its invoice.
        invoice_id = object_id(pi.get("invoice"))
        if invoice_id:
            invoice, _ = _current(gateway().retrieve_invoice, invoice_id, {})
            if invoice.get("status") == "paid":
                return record_invoice_payment(invoice)
        return None
    attempt = db.session.get(GiftAttempt, attempt_id)
    if _made_for_another(attempt, attempt and attempt.stripe_payment_intent_id, pi["id"]):
        return None
    amount = int(pi.get("amount_received") or pi.get("amount") or 0)
    if amount <= 0:
        return None
    page_id = attempt.action_page_id if attempt else _page(pi.get("metadata"))
    donation, created = _insert_donation(
        stripe_payment_intent_id=pi["id"], stripe_charge_id=object_id(charge.get("id")),
        stripe_customer_id=object_id(pi.get("customer")), action_page_id=page_id,
        supporter_id=find_or_create_supporter(attempt), gift_attempt_id=attempt_id
        if attempt else None, frequency=Frequency.ONE_TIME.value, amount=amount,
        fee_covered=min(attempt.fee_amount, amount) if attempt else 0,
        currency=str(pi.get("currency") or "").lower(),
        charged_at=_time(charge.get("created") or pi.get("created")), **_visit(attempt))
    apply_charge_refunds(donation, charge)
    if created:
        _donation_emails(donation, attempt)
    if attempt is not None and attempt.status != AttemptStatus.SUCCEEDED.value:
        attempt.status = AttemptStatus.SUCCEEDED.value
        attempt.completed_at = attempt.completed_at or donation.charged_at
    return donation


def record_invoice_payment(invoice: Any) -> Donation | None:
    """The Donation of a monthly gift's paid invoice, made once, and the gift's failures
    counted again (this invoice's no longer count). None when it is not a gift of ours."""
    invoice = as_dict(invoice)
    pi_id = invoice_payment_intent_id(invoice)
    amount = int(invoice.get("amount_paid") or 0)
    if invoice.get("status") != "paid" or not pi_id or amount <= 0:
        return None
    gift = _gift_for_subscription(invoice_subscription_id(invoice))
    if gift is None:
        return None
    end = invoice_period_end(invoice)
    if end and gift.status != MonthlyGiftStatus.CANCELED.value:
        gift.next_charge_at = _later(gift.next_charge_at, _time(end))
    donation = _donation_by(pi_id=pi_id)
    charge = _invoice_charge(invoice, pi_id)
    if donation is None:
        attempt = db.session.get(GiftAttempt, gift.gift_attempt_id) if gift.gift_attempt_id \
            else None
        paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
        donation, created = _insert_donation(
            stripe_payment_intent_id=pi_id, stripe_charge_id=object_id(charge.get("id")),
            stripe_invoice_id=invoice.get("id"),
            stripe_customer_id=object_id(invoice.get("customer")) or gift.stripe_customer_id,
            action_page_id=gift.action_page_id, supporter_id=gift.supporter_id,
            gift_attempt_id=gift.gift_attempt_id, monthly_gift_id=gift.id,
            frequency=Frequency.MONTHLY.value, amount=amount,
            fee_covered=min(gift.fee_covered, amount),
            currency=str(invoice.get("currency") or gift.currency).lower(),
            charged_at=_time(paid_at or invoice.get("created")), **_visit(attempt))
        if created:
            _donation_emails(donation, attempt)
    apply_charge_refunds(donation, charge)
    _count_failures(gift)
    return donation


def apply_charge_refunds(donation: Donation, charge: dict) -> bool:
    """Takes the charge's refunded amount into the ledger row; True when it changed.

    A refund only ever adds to `amount_refunded`, so the larger figure is the newer one:
    an old `charge.refunded` event arriving after a newer one changes nothing."""
    refunded = min(int(charge.get("amount_refunded") or 0), donation.amount)
    if refunded <= donation.amount_refunded:
        return False
    donation.amount_refunded = refunded
    donation.status = (DonationStatus.REFUNDED.value if refunded >= donation.amount
                       else DonationStatus.PARTIALLY_REFUNDED.value)
    return True


# -- monthly gifts -------------------------------------------------------------------------

def record_subscription(sub: Any) -> MonthlyGift | None:
    """The MonthlyGift of a subscription, made once and merged with the subscription as
    given (re-fetch it first where order matters). None when it is not a gift of ours."""
    sub = as_dict(sub)
    if not sub.get("id"):
        return None
    gift = _gift_by_subscription(sub["id"])
    _, quantity = subscription_quantity(sub)
    if gift is None:
        attempt_id = _int((sub.get("metadata") or {}).get("gift_attempt"))
        if attempt_id is None or quantity <= 0:
            return None
        attempt = db.session.get(GiftAttempt, attempt_id)
        if _made_for_another(attempt, attempt and attempt.stripe_subscription_id, sub["id"]):
            return None
        insert = upsert_insert(db.engine.dialect.name)
        db.session.execute(insert(MonthlyGift.__table__).values(
            stripe_subscription_id=sub["id"],
            stripe_customer_id=object_id(sub.get("customer")) or "",
            action_page_id=attempt.action_page_id if attempt else _page(sub.get("metadata")),
            supporter_id=find_or_create_supporter(attempt),
            gift_attempt_id=attempt_id if attempt else None, amount=quantity,
            fee_covered=attempt.fee_amount if attempt else 0,
            currency=_subscription_currency(sub, attempt),
            status=MonthlyGiftStatus.INCOMPLETE.value, failures=0, ended_reason="",
            created_at=_time(sub.get("created")),
        ).on_conflict_do_nothing(index_elements=["stripe_subscription_id"]))
        gift = _gift_by_subscription(sub["id"])
    status = SUBSCRIPTION_STATUS.get(str(sub.get("status")), MonthlyGiftStatus.PAST_DUE)
    if gift.status == MonthlyGiftStatus.CANCELED.value:
        status = MonthlyGiftStatus.CANCELED  # an ended gift never starts again
    if quantity > 0:
        gift.amount = quantity
    if status is MonthlyGiftStatus.CANCELED:
        ended = sub.get("ended_at") or sub.get("canceled_at")
        _end(gift, CANCELLED_AT_STRIPE, _time(ended) if ended else None)
    else:
        gift.status = status.value
        end = subscription_period_end(sub)
        if end:
            gift.next_charge_at = _later(gift.next_charge_at, _time(end))
    return gift


def _count_failures(gift: MonthlyGift) -> None:
    """Failures in a row: the failed attempts (one dunning email each) of the gift's
    invoices not paid since. At DONATION_MAX_PAYMENT_FAILURES the gift ends."""
    db.session.flush()
    paid = set(db.session.scalars(select(Donation.stripe_invoice_id).where(
        Donation.monthly_gift_id == gift.id, Donation.stripe_invoice_id.is_not(None))))
    keys = db.session.scalars(select(DonorEmail.dedupe_key).where(
        DonorEmail.monthly_gift_id == gift.id,
        DonorEmail.kind == DonorEmailKind.DUNNING.value))
    gift.failures = sum(1 for key in keys if key.split(":")[1] not in paid)
    limit = current_app.config["DONATION_MAX_PAYMENT_FAILURES"]
    if gift.failures >= limit:
        _end_after_failures(gift, limit)


def _end_after_failures(gift: MonthlyGift, limit: int) -> None:
    current, known = _current(gateway().retrieve_subscription, gift.stripe_subscription_id,
                              {})
    if known and current.get("status") not in ("canceled", "incomplete_expired"):
        gateway().cancel_subscription(gift.stripe_subscription_id)
    _end(gift, f"ended after {limit} failed payments", None, overrides_stripe=True)
    _queue(DonorEmailKind.GIFT_ENDED, f"gift_ended:{gift.id}", monthly_gift_id=gift.id,
           supporter_id=gift.supporter_id)


def _end(gift: MonthlyGift, reason: str, ended_at: datetime | None, *,
         overrides_stripe: bool = False) -> None:
    """Ends the gift. A reason already given stays (the donor's cancel, our failures),
    except Stripe's plain cancel, which our own more exact reason replaces. The end date
    is the earliest any news gave."""
    gift.status = MonthlyGiftStatus.CANCELED.value
    gift.next_charge_at = None
    if not gift.ended_reason or (overrides_stripe and gift.ended_reason == CANCELLED_AT_STRIPE):
        gift.ended_reason = reason
    if ended_at is not None and (gift.ended_at is None or ended_at < gift.ended_at):
        gift.ended_at = ended_at
    elif gift.ended_at is None:
        gift.ended_at = utcnow()


def _gift_for_subscription(subscription_id: str | None) -> MonthlyGift | None:
    """The gift of a subscription: ours already, or recorded from Stripe's subscription.
    NotYetKnown when neither we nor Stripe know it."""
    if not subscription_id:
        return None
    gift = _gift_by_subscription(subscription_id)
    if gift is not None:
        return gift
    sub, known = _current(gateway().retrieve_subscription, subscription_id, {})
    if not known:
        raise NotYetKnown("a subscription neither the ledger nor Stripe knows")
    return record_subscription(sub)


def _gift_by_subscription(subscription_id: str) -> MonthlyGift | None:
    return db.session.scalar(
        select(MonthlyGift).where(MonthlyGift.stripe_subscription_id == subscription_id)
        .with_for_update().execution_options(populate_existing=True))


def _subscription_currency(sub: dict, attempt: GiftAttempt | None) -> str:
    items = (sub.get("items") or {}).get("data") or []
    plan = (items[0].get("plan") or items[0].get("price") or {}) if items else {}
    currency = sub.get("currency") or (plan.get("currency") if isinstance(plan, dict) else None)
    return str(currency or (attempt.currency if attempt else "")).lower()


# -- rows ----------------------------------------------------------------------------------

def _insert_donation(**values: Any) -> tuple[Donation, bool]:
    """The Donation of a PaymentIntent, inserted unless it exists, locked; (row, inserted)."""
    insert = upsert_insert(db.engine.dialect.name)
    # On the table, not the mapped class: an ORM-enabled INSERT reports no row count.
    table = Donation.__table__
    created = db.session.execute(insert(table).values(
        amount_refunded=0, status=DonationStatus.SUCCEEDED.value, dispute_status="",
        dispute_amount=0, dispute_event_created=0, created_at=utcnow(), **values,
    ).on_conflict_do_nothing(index_elements=["stripe_payment_intent_id"])
        .returning(table.c.id)).scalar() is not None
    return _donation_by(pi_id=values["stripe_payment_intent_id"]), created


def _donation_by(*, pi_id: str | None = None, charge_id: str | None = None) -> Donation | None:
    for column, value in ((Donation.stripe_payment_intent_id, pi_id),
                          (Donation.stripe_charge_id, charge_id)):
        if value:
            found = db.session.scalar(select(Donation).where(column == value).with_for_update()
                                      .execution_options(populate_existing=True))
            if found is not None:
                return found
    return None


def _donation_for_charge(charge: dict, known: bool) -> Donation | None:
    """The Donation a charge paid: in the ledger, or recorded now from its PaymentIntent as
    Stripe holds it. NotYetKnown when Stripe knows neither the charge nor its payment."""
    pi_id = object_id(charge.get("payment_intent"))
    donation = _donation_by(pi_id=pi_id, charge_id=charge.get("id"))
    if donation is not None:
        if not donation.stripe_charge_id and charge.get("id"):
            donation.stripe_charge_id = charge["id"]
        return donation
    if not pi_id:
        return None
    pi, pi_known = _current(gateway().retrieve_payment_intent, pi_id, {})
    if not (known or pi_known):
        raise NotYetKnown("a charge neither the ledger nor Stripe knows")
    return record_payment_intent(pi) if pi_known else None


def _invoice_charge(invoice: dict, pi_id: str) -> dict:
    """The charge that paid an invoice, as Stripe holds it ({} when Stripe does not know)."""
    charge_id = object_id(invoice.get("charge"))
    if charge_id:
        charge, _ = _current(gateway().retrieve_charge, charge_id, {"id": charge_id})
        return charge
    pi, known = _current(gateway().retrieve_payment_intent, pi_id, {})
    return _charge_of(pi) if known else {}


def _charge_of(pi: dict) -> dict:
    """A PaymentIntent's latest charge as Stripe holds it ({} when it does not know it)."""
    try:
        return gateway().payment_intent_charge(pi)
    except InvalidRequestError as exc:
        if exc.http_status == 404:
            return {}
        raise


def find_or_create_supporter(attempt: GiftAttempt | None) -> int | None:
    """The supporter giving: by the attempt's email (lower case, as every email is
    stored), made if new, blank names filled in but never overwritten (anyone can type
    anyone's email into a form)."""
    if attempt is None or not attempt.email:
        return None
    email = normalise_email(attempt.email)
    insert = upsert_insert(db.engine.dialect.name)
    db.session.execute(insert(Supporter.__table__).values(
        email=email, first_name=attempt.first_name, last_name=attempt.last_name,
        created_at=utcnow()).on_conflict_do_nothing(index_elements=["email"]))
    supporter = db.session.scalar(select(Supporter).where(Supporter.email == email))
    if supporter is None:
        return None
    if not supporter.first_name and not supporter.last_name and supporter.erased_at is None:
        supporter.first_name, supporter.last_name = attempt.first_name, attempt.last_name
    return supporter.id


def _donation_emails(donation: Donation, attempt: GiftAttempt | None) -> None:
    _queue(DonorEmailKind.RECEIPT, f"receipt:{donation.id}", donation_id=donation.id,
           supporter_id=donation.supporter_id)
    if attempt is not None and attempt.tribute_notify_email:  # on its first donation only
        _queue(DonorEmailKind.TRIBUTE, f"tribute:{attempt.id}", donation_id=donation.id)


def _queue(kind: DonorEmailKind, key: str, **ids: int | None) -> None:
    if queue_donor_email(db.session, kind, key, **ids):
        db.session.info[EMAILS_QUEUED] = True


def _visit(attempt: GiftAttempt | None) -> dict[str, str]:
    if attempt is None:
        return {}
    return {"source": attempt.source, "utm_source": attempt.utm_source,
            "utm_medium": attempt.utm_medium, "utm_campaign": attempt.utm_campaign}


def _attempt(metadata: dict | None) -> GiftAttempt | None:
    attempt_id = _int((metadata or {}).get("gift_attempt"))
    return db.session.get(GiftAttempt, attempt_id) if attempt_id is not None else None


def _page(metadata: dict | None) -> int | None:
    page_id = _int((metadata or {}).get("page"))
    if page_id is None:
        return None
    return db.session.scalar(select(ActionPage.id).where(ActionPage.id == page_id))


def _current(fetch: Callable[[str], Any], object_id_: str | None,
             fallback: dict) -> tuple[dict, bool]:
    """(the object as Stripe holds it now, True), or (`fallback`, False) when Stripe does
    not know it (a synthetic event in the tests). Any other error is raised: the event is
    tried again later."""
    if not object_id_:
        return fallback, False
    try:
        return as_dict(fetch(object_id_)), True
    except InvalidRequestError as exc:
        if exc.http_status == 404:
            return fallback, False
        raise


def _made_for_another(attempt: GiftAttempt | None, ours: str | None, theirs: str) -> bool:
    """True when the attempt the metadata names made a different Stripe object: the event
    is another database's (a restored backup, a second installation on the account),
    whose attempt ids repeat ours."""
    return attempt is not None and ours is not None and ours != theirs


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _time(unix: Any) -> datetime:
    return datetime.fromtimestamp(int(unix), UTC) if unix else utcnow()


def _later(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new > current else current
