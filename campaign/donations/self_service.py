"""What a monthly donor does through their signed links, with no login: cancel the gift,
change its amount, save a new card after a failed payment.

Stripe is asked first (through the gateway), then our row follows; the ledger, applying
Stripe's customer.subscription.updated/deleted later, keeps the reason set here and
takes the amount from the subscription's quantity, so both end the same. Flushes only:
the view commits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from campaign.common.types import utcnow
from campaign.donations.gateway import (
    InvalidRequestError,
    as_dict,
    gateway,
    object_id,
    subscription_quantity,
)
from campaign.donations.models import DonationSettings, MonthlyGift, MonthlyGiftStatus
from campaign.donations.money import AmountError, fee_for, format_money, to_minor
from campaign.extensions import db

CANCELLED_BY_DONOR = "cancelled by the donor"


class GiftChangeError(ValueError):
    """A change the donor asked for cannot be made; the message says why, for them."""


def is_active(gift: MonthlyGift) -> bool:
    return gift.status in (MonthlyGiftStatus.ACTIVE.value, MonthlyGiftStatus.PAST_DUE.value)


def cancel_gift(gift: MonthlyGift) -> None:
    """Cancels the subscription at Stripe, then marks the gift ended by the donor."""
    if gift.status == MonthlyGiftStatus.CANCELED.value:
        return  # a second press of the button, or a second tab
    subscription = as_dict(gateway().retrieve_subscription(gift.stripe_subscription_id))
    if subscription.get("status") != "canceled":
        gateway().cancel_subscription(gift.stripe_subscription_id)
    gift.status = MonthlyGiftStatus.CANCELED.value
    gift.ended_reason = CANCELLED_BY_DONOR
    gift.ended_at = utcnow()
    gift.next_charge_at = None


@dataclass(frozen=True)
class AmountLimits:
    minimum: int
    maximum: int
    fee_basis_points: int  # what covering the fee adds, when the donor covers it


def amount_limits(gift: MonthlyGift) -> AmountLimits | None:
    """The gift's page's minimum and maximum (None when the page has no giving settings
    any more: then the amount cannot be changed)."""
    settings = db.session.get(DonationSettings, gift.action_page_id) \
        if gift.action_page_id else None
    if settings is None:
        return None
    return AmountLimits(settings.minimum_amount, settings.maximum_amount,
                        settings.fee_cover_basis_points if gift.fee_covered else 0)


def gift_part(gift: MonthlyGift) -> int:
    """What the donor gives each month, without the fee they cover."""
    return gift.amount - gift.fee_covered


def change_amount(gift: MonthlyGift, typed: str) -> int:
    """Sets the monthly gift to the amount typed (plus the fee, if the donor covers it),
    at Stripe (the subscription's quantity) and here; returns the new monthly charge.
    GiftChangeError for an amount outside the page's limits, or a gift that ended."""
    if not is_active(gift):
        raise GiftChangeError("This monthly gift is not running, so its amount cannot change.")
    limits = amount_limits(gift)
    if limits is None:
        raise GiftChangeError("This gift's amount can no longer be changed here.")
    try:
        new_gift = to_minor(typed, gift.currency)
    except AmountError as exc:
        raise GiftChangeError(str(exc)) from None
    if new_gift < limits.minimum:
        raise GiftChangeError(
            f"The smallest monthly gift is {format_money(limits.minimum, gift.currency)}.")
    if new_gift > limits.maximum:
        raise GiftChangeError(
            f"The largest monthly gift is {format_money(limits.maximum, gift.currency)}.")
    fee = fee_for(new_gift, limits.fee_basis_points)
    charged = new_gift + fee
    if charged != gift.amount:
        _set_quantity(gift, charged)
    gift.amount, gift.fee_covered = charged, fee
    return charged


def _set_quantity(gift: MonthlyGift, charged: int) -> None:
    # The key names the gift and the change, so a retried request (a double click, a
    # timeout) changes the subscription once. Going back to an earlier amount within
    # Stripe's 24 hours of keys would replay the earlier answer and change nothing: seen
    # by reading the subscription back, and then made under a key of its own.
    key = f"monthly-gift-{gift.stripe_subscription_id}-amount-{gift.amount}-to-{charged}"
    gateway().change_subscription_amount(gift.stripe_subscription_id, charged, key)
    current = gateway().retrieve_subscription(gift.stripe_subscription_id)
    if subscription_quantity(current)[1] != charged:
        gateway().change_subscription_amount(gift.stripe_subscription_id, charged,
                                             f"{key}-at-{time.time_ns()}")


def card_setup(gift: MonthlyGift, link_issued_at) -> dict:
    """The SetupIntent (as a dict) where the donor saves a new card: one per card-update
    link, so reloading the page reuses it. One that was cancelled (a failed 3-D Secure
    check, on the local server) is followed by a new one, keyed by the one before: the
    same chain, however often the page is reloaded."""
    link = f"{gift.failures}-{int(link_issued_at.timestamp())}"
    attempt = link
    for _ in range(MAX_CANCELLED_SETUPS):
        setup = as_dict(gateway().create_card_update_setup_intent(
            gift.id, gift.stripe_customer_id, attempt))
        if setup.get("status") != "canceled":
            return setup
        attempt = f"{link}-after-{setup['id']}"
    raise GiftChangeError("Too many tries with this link. Please write to us and we will "
                          "help.")


MAX_CANCELLED_SETUPS = 10


def save_new_card(gift: MonthlyGift, setup_intent_id: str) -> dict[str, str]:
    """After the donor's browser confirmed the SetupIntent: makes its card the one the
    gift charges, and pays the open invoices with it. Returns each open invoice's status
    after ('paid' or not); a CardError when Stripe declined the card for one.
    GiftChangeError when the SetupIntent is not a finished one of this gift's customer."""
    try:
        setup = as_dict(gateway().retrieve_setup_intent(setup_intent_id))
    except InvalidRequestError:  # no such SetupIntent
        raise GiftChangeError("The card was not saved. Please enter it again.") from None
    if object_id(setup.get("customer")) != gift.stripe_customer_id \
            or setup.get("status") != "succeeded":
        raise GiftChangeError("The card was not saved. Please enter it again.")
    gateway().make_default_card(gift.stripe_customer_id, object_id(setup["payment_method"]))
    return gateway().pay_open_invoices(gift.stripe_subscription_id,
                                       f"monthly-gift-{gift.id}-{setup_intent_id}-pay")
