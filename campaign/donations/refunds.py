"""Refunds staff ask for: checked against the ledger, recorded as a DonationRefund row
first (its id is the idempotency key of the Stripe call), sent through the gateway, then
the charge as Stripe holds it taken into the ledger.

Stripe refuses a refund past what is left; the local Stripe-compatible server does not
(it accepted 99999 on a 5000 charge), so the limit is ours to keep, whatever is behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from campaign.common.errors import describe_error
from campaign.donations import ledger
from campaign.donations.gateway import GivingNotConfigured, StripeError, as_dict, gateway
from campaign.donations.models import Donation, DonationRefund, RefundStatus
from campaign.donations.money import format_money
from campaign.extensions import db


class RefundRefused(ValueError):
    """Nothing was sent to Stripe; the message says why, for staff."""


class RefundStale(RefundRefused):
    """The donation had another refund since the form was shown (a second submit)."""


def lock_donation(donation_id: int) -> Donation | None:
    return db.session.scalars(
        select(Donation).where(Donation.id == donation_id).with_for_update()
        .execution_options(populate_existing=True)).one_or_none()


def refund_count(donation_id: int) -> int:
    return db.session.scalar(select(func.count(DonationRefund.id))
                             .where(DonationRefund.donation_id == donation_id)) or 0


def refundable(donation: Donation) -> int:
    """What is left to refund: refunds still waiting for Stripe's answer count as made,
    so two staff members at once cannot refund the same money twice."""
    in_flight = db.session.scalar(
        select(func.coalesce(func.sum(DonationRefund.amount), 0))
        .where(DonationRefund.donation_id == donation.id,
               DonationRefund.status == RefundStatus.REQUESTED.value)) or 0
    return donation.amount - donation.amount_refunded - int(in_flight)


def request_refund(donation: Donation, amount: int, reason: str, refunds_seen: int,
                   staff_user_id: int | None) -> DonationRefund:
    """Adds the refund row (requested) after the checks; RefundRefused otherwise. The
    donation must be locked (`lock_donation`), so two requests are checked one after the
    other. Flushes; the caller commits before sending it (`send_refund`)."""
    if refund_count(donation.id) != refunds_seen:
        raise RefundStale("This donation has had another refund since this page was shown "
                          "(the form may have been sent twice). Nothing more was refunded: "
                          "check the figures below and try again if you still need to.")
    left = refundable(donation)
    if left <= 0:
        raise RefundRefused("This donation is already refunded in full.")
    if amount > left:
        raise RefundRefused(
            f"At most {format_money(left, donation.currency)} is left to refund on this "
            f"donation; {format_money(amount, donation.currency)} was not refunded.")
    refund = DonationRefund(donation_id=donation.id, amount=amount, reason=reason,
                            staff_user_id=staff_user_id, status=RefundStatus.REQUESTED.value)
    db.session.add(refund)
    db.session.flush()
    return refund


@dataclass(frozen=True)
class RefundOutcome:
    refund_id: int
    stripe_refund_id: str | None
    charge: dict | None  # the charge as Stripe holds it after the refund, if read back
    error: str | None  # Stripe's refusal (or why it was not reached), for staff


def send_refund(refund_id: int, payment_intent_id: str, amount: int) -> RefundOutcome:
    """The Stripe call, with no database lock held; changes no row."""
    try:
        stripe_refund = gateway().refund(refund_id, payment_intent_id, amount)
    except GivingNotConfigured as exc:
        return RefundOutcome(refund_id, None, None, str(exc))
    except StripeError as exc:
        message = getattr(exc, "user_message", None) or describe_error(exc)
        return RefundOutcome(refund_id, None, None, str(message)[:300])
    try:
        stripe_gateway = gateway()
        charge = stripe_gateway.payment_intent_charge(
            stripe_gateway.retrieve_payment_intent(payment_intent_id))
    except StripeError:
        # The refund is made; the ledger learns the figure from charge.refunded instead.
        charge = None
    return RefundOutcome(refund_id, as_dict(stripe_refund).get("id"), charge, None)


def record_refund_outcome(donation: Donation, outcome: RefundOutcome) -> DonationRefund:
    """Marks the refund row succeeded or failed and takes the charge into the ledger. The
    donation must be locked. Flushes; the caller commits."""
    refund = db.session.get(DonationRefund, outcome.refund_id, populate_existing=True)
    if outcome.error is None:
        refund.status = RefundStatus.SUCCEEDED.value
        refund.stripe_refund_id = outcome.stripe_refund_id
        if outcome.charge:
            ledger.apply_charge_refunds(donation, outcome.charge)
    else:
        refund.status = RefundStatus.FAILED.value
        refund.error = outcome.error[:300]
    db.session.flush()
    return refund
