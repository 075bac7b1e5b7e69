"""`flask --app wsgi donations reconcile --since DATE [--until DATE]`: the ledger against
Stripe's own records for a period.

Every PaymentIntent that succeeded has exactly one Donation with the same amount, currency
and refunded amount; every monthly gift's subscription has the gift's status and amount;
and no ledger row of the period lacks its Stripe object. Each difference is one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from campaign.donations.gateway import (
    Gateway,
    InvalidRequestError,
    as_dict,
    gateway,
    subscription_quantity,
    unit_plan_id,
)
from campaign.donations.ledger import SUBSCRIPTION_STATUS
from campaign.donations.models import Donation, MonthlyGift, MonthlyGiftStatus
from campaign.donations.money import plain
from campaign.extensions import db


def differences(since: date, until: date | None = None) -> list[str]:
    """Every difference between the ledger and Stripe for [since, until) (until: today
    included when not given)."""
    start = datetime.combine(since, datetime.min.time(), UTC)
    end = datetime.combine(until or (datetime.now(UTC).date() + timedelta(days=1)),
                           datetime.min.time(), UTC)
    stripe = gateway()
    return [*_payments(stripe, start, end), *_gifts(stripe, start, end)]


def _payments(stripe: Gateway, start: datetime, end: datetime) -> Iterator[str]:
    seen: set[str] = set()
    for pi in stripe.payment_intents(int(start.timestamp()), int(end.timestamp())):
        if pi.get("status") != "succeeded":
            continue
        seen.add(pi["id"])
        yield from _compare_payment(stripe, pi)
    for donation in db.session.scalars(select(Donation).where(
            Donation.charged_at >= start, Donation.charged_at < end,
            Donation.stripe_payment_intent_id.not_in(seen)).order_by(Donation.id)):
        pi = _retrieve(stripe.retrieve_payment_intent, donation.stripe_payment_intent_id)
        if pi is None or pi.get("status") != "succeeded":
            yield (f"donation {donation.id} ({plain(donation.amount, donation.currency)}"
                   f" {donation.currency.upper()}): PaymentIntent "
                   f"{donation.stripe_payment_intent_id} "
                   f"{'is unknown to Stripe' if pi is None else 'has not succeeded'}")
        else:
            yield from _compare_payment(stripe, pi)


def _compare_payment(stripe: Gateway, pi: dict) -> Iterator[str]:
    donations = db.session.scalars(select(Donation).where(
        Donation.stripe_payment_intent_id == pi["id"])).all()
    amount = int(pi.get("amount_received") or pi.get("amount") or 0)
    currency = str(pi.get("currency") or "").lower()
    if len(donations) != 1:
        yield (f"PaymentIntent {pi['id']} ({plain(amount, currency)} {currency.upper()}) "
               f"succeeded at Stripe: {len(donations)} donations in the ledger")
        return
    [donation] = donations
    refunded = int(stripe.payment_intent_charge(pi).get("amount_refunded") or 0)
    for what, ours, theirs in (("amount", donation.amount, amount),
                               ("currency", donation.currency, currency),
                               ("amount refunded", donation.amount_refunded, refunded)):
        if ours != theirs:
            yield (f"donation {donation.id} (PaymentIntent {pi['id']}): {what} is {ours} "
                   f"in the ledger, {theirs} at Stripe")


def _gifts(stripe: Gateway, start: datetime, end: datetime) -> Iterator[str]:
    seen: set[str] = set()
    for sub in stripe.subscriptions(int(start.timestamp()), int(end.timestamp())):
        if not _is_a_gift(sub):
            continue
        seen.add(sub["id"])
        yield from _compare_gift(sub)
    for gift in db.session.scalars(select(MonthlyGift).where(
            MonthlyGift.created_at >= start, MonthlyGift.created_at < end,
            MonthlyGift.stripe_subscription_id.not_in(seen)).order_by(MonthlyGift.id)):
        sub = _retrieve(stripe.retrieve_subscription, gift.stripe_subscription_id)
        if sub is None:
            yield (f"monthly gift {gift.id}: subscription {gift.stripe_subscription_id} is "
                   "unknown to Stripe")
        else:
            yield from _compare_gift(sub)


def _is_a_gift(sub: dict) -> bool:
    if (sub.get("metadata") or {}).get("gift_attempt"):
        return True
    items = (sub.get("items") or {}).get("data") or []
    plan = (items[0].get("plan") or items[0].get("price") or {}) if items else {}
    plan_id = plan.get("id", "") if isinstance(plan, dict) else str(plan)
    return plan_id.startswith(unit_plan_id(""))


def _compare_gift(sub: dict) -> Iterator[str]:
    gift = db.session.scalar(select(MonthlyGift).where(
        MonthlyGift.stripe_subscription_id == sub["id"]))
    status = SUBSCRIPTION_STATUS.get(str(sub.get("status")), MonthlyGiftStatus.PAST_DUE).value
    _, quantity = subscription_quantity(sub)
    if gift is None:
        yield f"subscription {sub['id']} ({status}, {quantity} a month) is not in the ledger"
        return
    for what, ours, theirs in (("status", gift.status, status),
                               ("amount", gift.amount, quantity)):
        if ours != theirs:
            yield (f"monthly gift {gift.id} (subscription {sub['id']}): {what} is {ours} in "
                   f"the ledger, {theirs} at Stripe")


def _retrieve(fetch, object_id: str) -> dict | None:
    try:
        return as_dict(fetch(object_id))
    except InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise
