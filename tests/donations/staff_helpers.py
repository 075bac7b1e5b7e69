"""Fixtures for the staff money tests: donation pages, ledger rows written straight into
the tables (what the ledger would have written), real charges on the local Stripe server,
and staff clients by role. Imported by the test modules that use them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient

from campaign.donations.models import Donation, GiftAttempt, MonthlyGift
from campaign.extensions import db
from tests.staff.conftest import create_staff as create_staff  # a fixture, re-exported
from tests.staff.conftest import signed_in

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def donation_page(create_page, query) -> Callable[..., tuple[str, int]]:
    """A donation page (a draft: staff pages don't care); (slug, id)."""

    def create(**fields) -> tuple[str, int]:
        fields.setdefault("kind", "donation")
        fields.setdefault("status", "draft")
        slug = create_page(**fields)
        [(page_id,)] = query("SELECT id FROM action_pages WHERE slug = :s", s=slug)
        return slug, page_id

    return create


@pytest.fixture
def make_donation(app: Flask) -> Callable[..., int]:
    """Inserts a ledger row as the ledger would write it; returns its id."""
    counter = iter(range(1, 10**9))

    def create(**fields) -> int:
        n = next(counter)
        fields.setdefault("stripe_payment_intent_id", f"pi_staff_test_{n}")
        fields.setdefault("frequency", "one_time")
        fields.setdefault("amount", 2500)
        fields.setdefault("currency", "usd")
        fields.setdefault("charged_at", NOON)
        with app.app_context():
            donation = Donation(**fields)
            db.session.add(donation)
            db.session.commit()
            return donation.id

    return create


@pytest.fixture
def make_attempt(app: Flask) -> Callable[..., int]:
    counter = iter(range(1, 10**9))

    def create(action_page_id: int, **fields) -> int:
        n = next(counter)
        fields.setdefault("token_digest", f"{n:064d}")
        fields.setdefault("email", "donor@example.org")
        fields.setdefault("amount", 2500)
        fields.setdefault("currency", "usd")
        fields.setdefault("frequency", "one_time")
        fields.setdefault("status", "succeeded")
        with app.app_context():
            attempt = GiftAttempt(action_page_id=action_page_id, **fields)
            db.session.add(attempt)
            db.session.commit()
            return attempt.id

    return create


@pytest.fixture
def make_monthly_gift(app: Flask) -> Callable[..., int]:
    counter = iter(range(1, 10**9))

    def create(**fields) -> int:
        n = next(counter)
        fields.setdefault("stripe_subscription_id", f"sub_staff_test_{n}")
        fields.setdefault("stripe_customer_id", f"cus_staff_test_{n}")
        fields.setdefault("amount", 1500)
        fields.setdefault("currency", "usd")
        fields.setdefault("status", "active")
        with app.app_context():
            gift = MonthlyGift(**fields)
            db.session.add(gift)
            db.session.commit()
            return gift.id

    return create


def stripe_client(local_stripe) -> stripe.StripeClient:
    return stripe.StripeClient(local_stripe.secret_key,
                               base_addresses={"api": local_stripe.api_base})


@pytest.fixture
def real_charge(local_stripe) -> Callable[..., dict]:
    """A succeeded PaymentIntent on the local Stripe server, paid with a raw test card (the
    local server accepts raw card numbers; real Stripe would not): its PI and charge ids."""
    client = stripe_client(local_stripe)

    def charge(amount: int, currency: str = "usd") -> dict:
        method = client.v1.payment_methods.create(params={
            "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                     "exp_year": 2030, "cvc": "123"}})
        intent = client.v1.payment_intents.create(params={
            "amount": amount, "currency": currency, "payment_method_types": ["card"],
            "payment_method": method.id, "confirm": True})
        assert intent.status == "succeeded"
        latest = intent["latest_charge"]
        charge_id = latest if isinstance(latest, str) else latest["id"]
        return {"payment_intent": intent.id, "charge": charge_id}

    return charge


def charge_refunded(local_stripe, charge_id: str) -> int:
    """The charge's amount_refunded as the Stripe server holds it."""
    return stripe_client(local_stripe).v1.charges.retrieve(charge_id)["amount_refunded"]


@pytest.fixture
def admin(app, create_staff) -> FlaskClient:
    return signed_in(app, create_staff, "ada.admin@example.org", is_admin=True)


@pytest.fixture
def editor(app, create_staff) -> FlaskClient:
    return signed_in(app, create_staff, "ed.editor@example.org", is_admin=False)
