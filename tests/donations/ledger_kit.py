"""What the ledger's tests share: gift attempts as the donor flow leaves them, real payments
and subscriptions made on the local Stripe server through the official SDK, synthetic
events signed as Stripe signs them, and the ledger read back by Stripe's ids (our own row
ids differ from one fresh ledger to the next)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import stripe
from flask import Flask
from sqlalchemy import text

from campaign.common.types import utcnow
from campaign.donations.events import APPLY_EVENTS, SWEEP_EVENTS
from campaign.donations.gateway import gateway
from campaign.donations.models import GiftAttempt
from campaign.extensions import db
from campaign.pages.services import load_page_view

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe-Signature for `payload`, as Stripe makes it (the SDK's own helper)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"


def event_body(event_type: str, obj: dict, *, created: int | None = None,
               event_id: str | None = None) -> str:
    """A synthetic event, pretty-printed as Stripe sends them."""
    return json.dumps({
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:16]}", "object": "event",
        "type": event_type, "created": created or int(time.time()), "livemode": False,
        "api_version": "2026-10-28.endive", "data": {"object": obj}}, indent=2)


def post_event(client, body: str, secret: str, *, header: str | None = None):
    return client.post("/stripe/webhook", data=body.encode(), headers={
        "Stripe-Signature": header or signature_header(body, secret),
        "Content-Type": "application/json"})


def make_attempt(app: Flask, slug: str, *, email: str = "Hana.Kim@Example.org",
                 amount: int = 5000, fee: int = 0, currency: str = "usd",
                 frequency: str = "one_time", tribute_email: str = "",
                 source: str = "email") -> tuple[int, int]:
    """A gift attempt as the donor flow leaves it at the card step: (attempt id, page id)."""
    with app.app_context():
        page_id = load_page_view(slug).id
        attempt = GiftAttempt(
            token_digest=uuid.uuid4().hex * 2, action_page_id=page_id, email=email,
            first_name="Hana", last_name="Kim", amount=amount, fee_amount=fee,
            currency=currency, frequency=frequency, tribute_kind="honour" if tribute_email
            else "", tribute_name="Grandmother" if tribute_email else "",
            tribute_notify_email=tribute_email, source=source, utm_source="newsletter",
            utm_medium="email", utm_campaign="winter", status="processing",
            created_at=utcnow())
        db.session.add(attempt)
        db.session.commit()
        return attempt.id, page_id


def stripe_client(app: Flask) -> stripe.StripeClient:
    with app.app_context():
        return gateway().client


def card(client: stripe.StripeClient) -> str:
    # A raw card number is fine against the local server only (STRIPE-TESTING.md).
    return client.v1.payment_methods.create(params={"type": "card", "card": CARD}).id


def pay_once(app: Flask, attempt_id: int, page_id: int, amount: int,
             currency: str = "usd") -> dict:
    """A one-time gift's PaymentIntent, created by the gateway as the card step does and
    confirmed with a card: Stripe sends payment_intent.succeeded."""
    client = stripe_client(app)
    with app.app_context():
        pi = gateway().create_payment_intent(attempt_id, amount, currency, "donor@example.org",
                                             "Gift", {"page": str(page_id)})
    client.v1.payment_intents.update(pi.id, params={"payment_method": card(client)})
    return client.v1.payment_intents.confirm(pi.id).to_dict()


def subscribe(app: Flask, attempt_id: int, page_id: int, amount: int,
              currency: str = "usd") -> dict:
    """A monthly gift's subscription, made by the gateway as the donor flow does after the
    card was saved: its first invoice is paid at once."""
    with app.app_context():
        g = gateway()
        customer = g.create_customer(attempt_id, "donor@example.org", "Hana Kim")
        g.make_default_card(customer.id, card(g.client))
        return g.create_subscription(attempt_id, customer.id, amount, currency,
                                     {"page": str(page_id)}).to_dict()


def run_drain(app: Flask, *, until_settled: bool = True, timeout: float = 30) -> None:
    """Runs the events drain here until no event is due or waiting for a retry."""
    tasks = app.extensions["celery"].tasks
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            tasks[SWEEP_EVENTS].apply()
            tasks[APPLY_EVENTS].apply()
            waiting = db.session.scalar(text(
                "SELECT count(*) FROM stripe_events WHERE status IN ('pending', 'applying')"))
            db.session.commit()
        if not waiting or not until_settled:
            return
        assert time.monotonic() < deadline, f"{waiting} events never applied"
        time.sleep(0.5)


def ledger_snapshot(query: Callable[..., list]) -> dict:
    """The ledger by Stripe's ids: donations, monthly gifts and the donor emails' keys with
    our row ids replaced by the Stripe ids they stand for."""
    donations = {row[0]: row[1:] for row in query(
        "SELECT d.stripe_payment_intent_id, d.stripe_charge_id, d.stripe_invoice_id, "
        "d.frequency, d.amount, d.fee_covered, d.currency, d.amount_refunded, d.status, "
        "d.dispute_status, d.dispute_amount, d.source, d.utm_campaign, d.charged_at, "
        "g.stripe_subscription_id, s.email FROM donations d "
        "LEFT JOIN monthly_gifts g ON g.id = d.monthly_gift_id "
        "LEFT JOIN supporters s ON s.id = d.supporter_id")}
    gifts = {row[0]: row[1:] for row in query(
        "SELECT g.stripe_subscription_id, g.amount, g.fee_covered, g.currency, g.status, "
        "g.next_charge_at, g.failures, g.ended_reason, g.ended_at IS NOT NULL, s.email "
        "FROM monthly_gifts g LEFT JOIN supporters s ON s.id = g.supporter_id")}
    by_donation = dict(query("SELECT id, stripe_payment_intent_id FROM donations"))
    by_gift = dict(query("SELECT id, stripe_subscription_id FROM monthly_gifts"))
    emails = set()
    for key, kind, donation_id, gift_id in query(
            "SELECT dedupe_key, kind, donation_id, monthly_gift_id FROM donor_emails"):
        if kind == "receipt":
            key = f"receipt:{by_donation[donation_id]}"
        elif kind == "gift_ended":
            key = f"gift_ended:{by_gift[gift_id]}"
        elif kind == "tribute":
            key = f"tribute:{by_donation[donation_id]}"
        emails.add(key)
    return {"donations": donations, "gifts": gifts, "emails": emails}
