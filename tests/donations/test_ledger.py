"""The ledger from Stripe's events: real payments and subscriptions on the local Stripe server
with its own webhooks, and the events it never sends (refunds, disputes, renewals, failed
renewals, subscription changes) built and signed here."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from campaign.donations.gateway import gateway
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
def secret(app) -> str:
    return app.config["STRIPE_WEBHOOK_SECRET"]


def _donations(query) -> list[tuple]:
    return query("SELECT stripe_payment_intent_id, frequency, amount, fee_covered, currency, "
                  "amount_refunded, status, source, utm_campaign FROM donations ORDER BY id")


def _emails(query) -> list[str]:
    return sorted(key for (key,) in query("SELECT dedupe_key FROM donor_emails"))


# -- real flows, real webhooks -------------------------------------------------------------

def test_a_one_time_gift_is_recorded_from_stripe_s_own_event(
        app, query, gift_page, webhook_origin, wait_for_events):
    attempt_id, page_id = make_attempt(app, gift_page, amount=5000, fee=150,
                                       tribute_email="honouree@example.org")
    pi = pay_once(app, attempt_id, page_id, 5150)
    wait_for_events(pi["id"], "payment_intent.succeeded")
    run_drain(app)

    assert _donations(query) == [(pi["id"], "one_time", 5150, 150, "usd", 0, "succeeded",
                                  "email", "winter")]
    [(donation_id, supporter_email, charge_id, page)] = query(
        "SELECT d.id, s.email, d.stripe_charge_id, d.action_page_id FROM donations d "
        "JOIN supporters s ON s.id = d.supporter_id")
    assert supporter_email == "hana.kim@example.org" and charge_id.startswith("ch_")
    assert page == page_id
    assert _emails(query) == [f"receipt:{donation_id}", f"tribute:{attempt_id}"]
    assert query("SELECT status FROM gift_attempts") == [("succeeded",)]
    assert {status for (status,) in query("SELECT status FROM stripe_events")} == {"applied"}


def test_a_monthly_gift_is_recorded_with_its_first_month(
        app, query, gift_page, webhook_origin, wait_for_events):
    attempt_id, _ = make_attempt(app, gift_page, amount=1500, frequency="monthly")
    _, page_id = make_attempt(app, gift_page, amount=1, frequency="monthly")
    sub = subscribe(app, attempt_id, page_id, 1500)
    wait_for_events(sub["id"], "customer.subscription.created", "invoice.paid",
                    "invoice.payment_succeeded")
    run_drain(app)

    [(gift_id, amount, status, failures, next_charge)] = query(
        "SELECT id, amount, status, failures, next_charge_at FROM monthly_gifts")
    assert (amount, status, failures) == (1500, "active", 0)
    assert next_charge == datetime.fromtimestamp(sub["current_period_end"], UTC)
    [(donation_id, frequency, donation_amount, invoice, gift)] = query(
        "SELECT id, frequency, amount, stripe_invoice_id, monthly_gift_id FROM donations")
    assert (frequency, donation_amount, gift) == ("monthly", 1500, gift_id)
    assert invoice == sub["latest_invoice"]
    assert _emails(query) == [f"receipt:{donation_id}"]


def test_record_payment_intent_and_record_subscription_for_the_thank_you_page(
        app, query, gift_page):
    """The donor flow's success path records at once; the webhook's later news changes
    nothing (no second row, no second receipt)."""
    from campaign.donations.ledger import record_payment_intent, record_subscription
    from campaign.extensions import db

    attempt_id, page_id = make_attempt(app, gift_page, amount=2500)
    pi = pay_once(app, attempt_id, page_id, 2500)
    monthly_id, _ = make_attempt(app, gift_page, amount=900, frequency="monthly")
    sub = subscribe(app, monthly_id, page_id, 900)
    for _ in range(2):
        with app.app_context():
            assert record_payment_intent(pi).amount == 2500
            assert record_subscription(sub).amount == 900
            db.session.commit()
    assert len(_donations(query)) == 1
    assert query("SELECT amount, status FROM monthly_gifts") == [(900, "active")]
    assert len(_emails(query)) == 1


def test_news_of_another_database_s_payment_is_not_taken_for_ours(app, query, gift_page):
    """Gift attempt ids repeat across a restored or a second database on one Stripe account:
    a payment whose metadata names our attempt, but not the payment our attempt made, is
    another database's gift and stays out of our ledger."""
    from campaign.donations.ledger import record_payment_intent, record_subscription
    from campaign.donations.models import GiftAttempt
    from campaign.extensions import db

    attempt_id, page_id = make_attempt(app, gift_page, amount=2500)
    theirs = pay_once(app, attempt_id, page_id, 2500)
    their_subscription = subscribe(app, attempt_id, page_id, 900)
    with app.app_context():
        attempt = db.session.get(GiftAttempt, attempt_id)
        attempt.stripe_payment_intent_id = "pi_made_by_this_database"
        attempt.stripe_subscription_id = "sub_made_by_this_database"
        assert record_payment_intent(theirs) is None
        assert record_subscription(their_subscription) is None
        db.session.commit()
    assert query("SELECT count(*) FROM donations") == [(0,)]
    assert query("SELECT count(*) FROM monthly_gifts") == [(0,)]


# -- events the local server never sends, signed here ----------------------------------

def test_partial_then_full_refund_and_a_late_old_event(app, client, secret, query, gift_page):
    attempt_id, page_id = make_attempt(app, gift_page, amount=5000)
    pi = pay_once(app, attempt_id, page_id, 5000)
    stripe = stripe_client(app)
    charge = pi["latest_charge"]

    stripe.v1.refunds.create(params={"payment_intent": pi["id"], "amount": 1200})
    partial = event_body("charge.refunded", {**charge, "amount_refunded": 1200,
                                             "refunded": False})
    post_event(client, partial, secret)  # before Stripe's news of the payment itself
    run_drain(app)
    assert [row[5:7] for row in _donations(query)] == [(1200, "partially_refunded")]

    stripe.v1.refunds.create(params={"payment_intent": pi["id"], "amount": 3800})
    post_event(client, event_body("charge.refunded", {**charge, "amount_refunded": 5000,
                                                      "refunded": True}), secret)
    post_event(client, event_body("charge.refunded", {**charge, "amount_refunded": 1200},
                                  created=int(time.time()) - 60), secret)  # late, older
    post_event(client, event_body("payment_intent.succeeded", pi), secret)
    run_drain(app)
    assert [row[5:7] for row in _donations(query)] == [(5000, "refunded")]
    assert len(_emails(query)) == 1  # one receipt, whoever recorded the payment


def test_a_dispute_created_then_closed_and_an_older_update_arriving_last(
        app, client, secret, query, gift_page):
    attempt_id, page_id = make_attempt(app, gift_page, amount=3000)
    pi = pay_once(app, attempt_id, page_id, 3000)
    charge_id = pi["latest_charge"]["id"]
    now = int(time.time())

    def dispute(event_type: str, status: str, created: int) -> None:
        post_event(client, event_body(event_type, {
            "id": "dp_test_1", "object": "dispute", "charge": charge_id, "amount": 3000,
            "status": status, "reason": "fraudulent"}, created=created), secret)

    dispute("charge.dispute.created", "needs_response", now - 30)
    run_drain(app)
    assert query("SELECT dispute_status, dispute_amount FROM donations") == [
        ("needs_response", 3000)]
    dispute("charge.dispute.closed", "lost", now)
    dispute("charge.dispute.updated", "under_review", now - 10)  # older, delivered late
    run_drain(app)
    assert query("SELECT dispute_status, dispute_amount FROM donations") == [("lost", 3000)]


def test_a_renewal_makes_a_second_month_and_moves_the_next_charge(
        app, client, secret, query, gift_page, webhook_origin, wait_for_events):
    attempt_id, page_id = make_attempt(app, gift_page, amount=2000, fee=60,
                                       frequency="monthly")
    sub = subscribe(app, attempt_id, page_id, 2060)
    wait_for_events(sub["id"], "invoice.paid", "customer.subscription.created")
    run_drain(app)
    month_2_end = sub["current_period_end"] + 31 * 86400
    renewal = renewal_invoice(sub, "in_test_month2", "pi_test_month2", month_2_end)
    for _ in range(2):  # delivered twice
        post_event(client, event_body("invoice.paid", renewal), secret)
    run_drain(app)

    rows = query("SELECT stripe_invoice_id, amount, fee_covered, frequency FROM donations "
                 "ORDER BY charged_at, id")
    assert rows == [(sub["latest_invoice"], 2060, 60, "monthly"),
                    ("in_test_month2", 2060, 60, "monthly")]
    assert query("SELECT next_charge_at, failures, status FROM monthly_gifts") == [
        (datetime.fromtimestamp(month_2_end, UTC), 0, "active")]
    assert len(_emails(query)) == 2


def test_failed_renewals_end_the_gift_after_the_configured_number(
        app, client, secret, query, gift_page):
    attempt_id, page_id = make_attempt(app, gift_page, amount=1000, frequency="monthly")
    sub = subscribe(app, attempt_id, page_id, 1000)
    with app.app_context():
        from campaign.donations.ledger import record_subscription
        from campaign.extensions import db

        gift_id = record_subscription(sub).id
        db.session.commit()
    limit = app.config["DONATION_MAX_PAYMENT_FAILURES"]
    invoice = renewal_invoice(sub, "in_test_failing", "pi_test_failing",
                              sub["current_period_end"] + 31 * 86400, status="open")
    for attempt in range(1, limit):
        body = event_body("invoice.payment_failed", {**invoice, "attempt_count": attempt})
        post_event(client, body, secret)
        post_event(client, event_body("invoice.payment_failed",
                                      {**invoice, "attempt_count": attempt}), secret)  # again
        run_drain(app)
        assert query("SELECT failures, status FROM monthly_gifts") == [(attempt, "active")]
    post_event(client, event_body("invoice.payment_failed",
                                  {**invoice, "attempt_count": limit}), secret)
    run_drain(app)

    assert query("SELECT failures, status, ended_reason FROM monthly_gifts") == [
        (limit, "canceled", f"ended after {limit} failed payments")]
    assert _emails(query) == sorted(
        [f"dunning:in_test_failing:{n}" for n in range(1, limit + 1)]
        + [f"gift_ended:{gift_id}"])
    with app.app_context():  # and Stripe charges it no more
        assert gateway().retrieve_subscription(sub["id"]).status == "canceled"


def test_subscription_updated_takes_stripe_s_amount_and_deleted_keeps_the_donor_s_reason(
        app, client, secret, query, gift_page):
    attempt_id, page_id = make_attempt(app, gift_page, amount=1000, frequency="monthly")
    sub = subscribe(app, attempt_id, page_id, 1000)
    post_event(client, event_body("customer.subscription.created", sub), secret)
    run_drain(app)
    with app.app_context():
        gateway().change_subscription_amount(sub["id"], 2500, "test-change-1")
    # The event's own object is stale (an old delivery): Stripe's state now wins.
    post_event(client, event_body("customer.subscription.updated", sub), secret)
    run_drain(app)
    assert query("SELECT amount, status FROM monthly_gifts") == [(2500, "active")]

    # The donor cancelled on the manage page, which recorded why before Stripe's news.
    query_update(app, "UPDATE monthly_gifts SET ended_reason = 'cancelled by the donor'")
    with app.app_context():
        gateway().cancel_subscription(sub["id"])
    post_event(client, event_body("customer.subscription.deleted",
                                  {**sub, "status": "canceled"}), secret)
    post_event(client, event_body("customer.subscription.updated", sub), secret)  # stale
    run_drain(app)
    [(status, reason, ended_at, next_charge)] = query(
        "SELECT status, ended_reason, ended_at, next_charge_at FROM monthly_gifts")
    assert (status, reason, next_charge) == ("canceled", "cancelled by the donor", None)
    assert ended_at is not None


def test_a_subscription_stripe_does_not_know_is_taken_from_its_event(
        app, client, secret, query, gift_page):
    attempt_id, _ = make_attempt(app, gift_page, amount=700, frequency="monthly")
    sub = {"id": "sub_test_unknown", "object": "subscription", "customer": "cus_test_1",
           "status": "past_due", "currency": "usd", "created": int(time.time()),
           "metadata": {"gift_attempt": str(attempt_id)},
           "items": {"data": [{"id": "si_1", "quantity": 700,
                               "current_period_end": int(time.time()) + 86400}]}}
    post_event(client, event_body("customer.subscription.updated", sub), secret)
    run_drain(app)
    assert query("SELECT amount, status FROM monthly_gifts") == [(700, "past_due")]


def test_an_event_about_a_payment_nobody_knows_is_retried_then_failed(
        app_settings, client, secret, query):
    from campaign import create_app

    impatient = create_app({**app_settings, "DONATION_EVENT_MAX_ATTEMPTS": 2})
    post_event(client, event_body("charge.refunded", {
        "id": "ch_test_nobody", "payment_intent": "pi_test_nobody", "amount_refunded": 5}),
        secret)
    run_drain(impatient, until_settled=False)
    [(status, attempts, error)] = query("SELECT status, attempts, last_error FROM stripe_events")
    assert (status, attempts) == ("pending", 1) and error.startswith("NotYetKnown")
    query_update(impatient, "UPDATE stripe_events SET claimed_at = NULL")  # backoff over
    run_drain(impatient, until_settled=False)  # its payment may still be on its way
    assert query("SELECT status, attempts FROM stripe_events") == [("pending", 2)]
    # Long after it came, no payment ever did: it is given up for staff to see.
    query_update(impatient, "UPDATE stripe_events SET claimed_at = NULL, "
                            "received_at = now() - interval '16 minutes'")
    run_drain(impatient, until_settled=False)
    assert query("SELECT status, attempts FROM stripe_events") == [("failed", 3)]
    run_drain(impatient, until_settled=False)  # and is not tried again
    assert query("SELECT status, attempts FROM stripe_events") == [("failed", 3)]


def test_events_not_about_gifts_are_applied_as_nothing(app, client, secret, query):
    for event_type in ("customer.created", "payment_intent.payment_failed", "plan.created"):
        post_event(client, event_body(event_type, {"id": "obj_1", "metadata": {}}), secret)
    run_drain(app)
    assert {s for (s,) in query("SELECT status FROM stripe_events")} == {"applied"}
    assert query("SELECT count(*) FROM donations") == [(0,)]


# -- helpers -------------------------------------------------------------------------------

def renewal_invoice(sub: dict, invoice_id: str, pi_id: str, period_end: int, *,
                    status: str = "paid") -> dict:
    """A month-2 invoice of `sub`, as Stripe's current API shapes it."""
    _, quantity = sub["items"]["data"][0]["id"], sub["items"]["data"][0]["quantity"]
    now = int(time.time())
    return {
        "id": invoice_id, "object": "invoice", "status": status,
        "billing_reason": "subscription_cycle", "customer": sub["customer"],
        "currency": "usd", "amount_due": quantity,
        "amount_paid": quantity if status == "paid" else 0, "created": now,
        "attempt_count": 1,
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": sub["id"]}},
        "payments": {"data": [{"payment": {"type": "payment_intent",
                                           "payment_intent": pi_id}}]},
        "status_transitions": {"paid_at": now if status == "paid" else None},
        "lines": {"data": [{"id": "il_1", "quantity": quantity,
                            "period": {"start": period_end - 31 * 86400,
                                       "end": period_end}}]}}


def query_update(app, sql: str) -> None:
    from sqlalchemy import text

    from campaign.extensions import db

    with app.app_context():
        db.session.execute(text(sql))
        db.session.commit()
