"""Ledger rows made straight in the database, as the ledger leaves them, for the tests of
what follows a donation (donor emails, statements, a monthly donor's own pages). Each
function runs in the caller's app context and flushes; the caller commits."""

from __future__ import annotations

from datetime import datetime

from campaign.common.tokens import token_digest
from campaign.common.types import utcnow
from campaign.donations.donor_emails import queue_donor_email
from campaign.donations.models import (
    Donation,
    DonationSettings,
    DonationStatus,
    DonorEmailKind,
    GiftAttempt,
    MonthlyGift,
)
from campaign.extensions import db
from campaign.pages import services as page_services
from campaign.supporters.models import Supporter


def donation_page(slug: str, *, currency: str = "usd", minimum: int = 500,
                  maximum: int = 100000, fee_basis_points: int = 0) -> int:
    campaign = page_services.get_campaign_by_slug("giving") or \
        page_services.create_campaign(slug="giving", name="Giving campaign")
    page = page_services.create_page(campaign, slug=slug, title=f"Give: {slug}",
                                     kind="donation", status="live")
    db.session.add(DonationSettings(
        action_page_id=page.id, currency=currency, suggested_amounts=str(minimum),
        default_amount=minimum, minimum_amount=minimum, maximum_amount=maximum,
        offer_one_time=True, offer_monthly=True, default_frequency="one_time",
        fee_cover_basis_points=fee_basis_points, tribute_enabled=True, goal_amount=0))
    db.session.flush()
    return page.id


def supporter(email: str, first_name: str = "Ji-woo", last_name: str = "Park") -> int:
    row = Supporter(email=email, first_name=first_name, last_name=last_name)
    db.session.add(row)
    db.session.flush()
    return row.id


def donation(page_id: int, supporter_id: int, amount: int, *, currency: str = "usd",
             fee_covered: int = 0, refunded: int = 0, charged_at: datetime | None = None,
             monthly_gift_id: int | None = None, gift_attempt_id: int | None = None,
             payment_intent: str | None = None) -> int:
    status = (DonationStatus.SUCCEEDED if not refunded else DonationStatus.REFUNDED
              if refunded == amount else DonationStatus.PARTIALLY_REFUNDED)
    row = Donation(
        stripe_payment_intent_id=payment_intent or f"pi_test_{supporter_id}_{amount}_"
        f"{int(utcnow().timestamp() * 1e6)}",
        action_page_id=page_id, supporter_id=supporter_id, gift_attempt_id=gift_attempt_id,
        monthly_gift_id=monthly_gift_id,
        frequency="monthly" if monthly_gift_id else "one_time", amount=amount,
        fee_covered=fee_covered, currency=currency, amount_refunded=refunded,
        status=status.value, charged_at=charged_at or utcnow())
    db.session.add(row)
    db.session.flush()
    return row.id


def monthly_gift(page_id: int, supporter_id: int, amount: int, *, currency: str = "usd",
                 subscription_id: str, customer_id: str, fee_covered: int = 0,
                 status: str = "active") -> int:
    row = MonthlyGift(stripe_subscription_id=subscription_id, stripe_customer_id=customer_id,
                      action_page_id=page_id, supporter_id=supporter_id, amount=amount,
                      fee_covered=fee_covered, currency=currency, status=status)
    db.session.add(row)
    db.session.flush()
    return row.id


def tribute_attempt(page_id: int, *, email: str, tribute_name: str, notify: str,
                    kind: str = "honour", amount: int = 5000) -> int:
    row = GiftAttempt(token_digest=token_digest(f"{email}:{tribute_name}:{utcnow()}"),
                      action_page_id=page_id, email=email, first_name="Ji-woo",
                      last_name="Park", amount=amount, currency="usd",
                      frequency="one_time", tribute_kind=kind, tribute_name=tribute_name,
                      tribute_notify_email=notify, status="succeeded")
    db.session.add(row)
    db.session.flush()
    return row.id


def receipt(donation_id: int, supporter_id: int | None) -> bool:
    return queue_donor_email(db.session, DonorEmailKind.RECEIPT, f"receipt:{donation_id}",
                             donation_id=donation_id, supporter_id=supporter_id)
