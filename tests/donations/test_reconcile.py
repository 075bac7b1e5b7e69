"""`flask donations reconcile`: no difference when the ledger matches Stripe, every
difference printed (and exit 1) when a row was changed or has no Stripe object."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campaign.donations.gateway import unit_plan_id
from campaign.extensions import db
from tests.donations.ledger_kit import (
    event_body,
    make_attempt,
    pay_once,
    post_event,
    run_drain,
    stripe_client,
    subscribe,
)


@pytest.fixture
def matching_ledger(app, client, local_stripe, gift_page, webhook_origin, wait_for_events):
    """A ledger made from Stripe's events: two one-time gifts (one partly refunded) and a
    monthly gift, on a local Stripe server holding nothing else."""
    local_stripe.flush()
    # The unit plan again, without the gateway's idempotency key: the local server would
    # replay the creation it remembers from before the flush, and make nothing.
    stripe_client(app).v1.plans.create(params={
        "id": unit_plan_id("usd"), "amount": 1, "currency": "usd", "interval": "month",
        "product": {"name": "Monthly gift (USD)"}})
    first, page_id = make_attempt(app, gift_page, amount=4000)
    second, _ = make_attempt(app, gift_page, amount=1200, email="other@example.org")
    monthly, _ = make_attempt(app, gift_page, amount=900, frequency="monthly")
    paid = pay_once(app, first, page_id, 4000)
    pay_once(app, second, page_id, 1200)
    sub = subscribe(app, monthly, page_id, 900)
    stripe_client(app).v1.refunds.create(params={"payment_intent": paid["id"],
                                                 "amount": 1500})
    post_event(client, event_body("charge.refunded", {**paid["latest_charge"],
                                                      "amount_refunded": 1500}),
               local_stripe.webhook_secret)
    wait_for_events(paid["id"], "payment_intent.succeeded")
    wait_for_events(sub["id"], "invoice.paid", "customer.subscription.created")
    run_drain(app)
    return paid, sub


def _reconcile(app, *args: str):
    return app.test_cli_runner().invoke(args=["donations", "reconcile", "--since",
                                              "2026-01-01", *args])


def test_a_ledger_made_from_stripe_s_events_has_no_difference(app, query, matching_ledger):
    assert query("SELECT count(*) FROM donations") == [(3,)]
    result = _reconcile(app)
    assert result.output.strip() == "no differences", result.output
    assert result.exit_code == 0


def test_every_changed_row_and_every_row_stripe_lacks_is_printed(app, query, matching_ledger):
    paid, sub = matching_ledger
    with app.app_context():
        db.session.execute(text("UPDATE donations SET amount_refunded = 0, "
                                "status = 'succeeded' WHERE stripe_payment_intent_id = :pi"),
                           {"pi": paid["id"]})
        db.session.execute(text("UPDATE monthly_gifts SET amount = 1000, status = 'past_due'"))
        db.session.execute(text(
            "INSERT INTO donations (stripe_payment_intent_id, frequency, amount, fee_covered, "
            "currency, amount_refunded, status, dispute_status, dispute_amount, "
            "dispute_event_created, source, utm_source, utm_medium, utm_campaign, charged_at, "
            "created_at) VALUES ('pi_not_at_stripe', 'one_time', 700, 0, 'usd', 0, "
            "'succeeded', '', 0, 0, '', '', '', '', now(), now())"))
        db.session.commit()
    [(gift_id,)] = query("SELECT id FROM monthly_gifts")
    [(donation_id,)] = query("SELECT id FROM donations WHERE stripe_payment_intent_id = :pi",
                             pi=paid["id"])
    [(ghost_id,)] = query("SELECT id FROM donations WHERE stripe_payment_intent_id = "
                          "'pi_not_at_stripe'")

    result = _reconcile(app)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"donation {donation_id} (PaymentIntent {paid['id']}): amount refunded is 0 in the "
        "ledger, 1500 at Stripe",
        f"donation {ghost_id} (7 USD): PaymentIntent pi_not_at_stripe is unknown to Stripe",
        f"monthly gift {gift_id} (subscription {sub['id']}): status is past_due in the "
        "ledger, active at Stripe",
        f"monthly gift {gift_id} (subscription {sub['id']}): amount is 1000 in the ledger, "
        "900 at Stripe",
        "4 differences"]


def test_a_period_before_the_gifts_has_no_difference(app, matching_ledger):
    result = _reconcile(app, "--until", "2026-02-01")
    assert (result.exit_code, result.output.strip()) == (0, "no differences")
