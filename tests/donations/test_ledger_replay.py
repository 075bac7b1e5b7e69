"""Webhook replay: a run's events delivered again to a fresh ledger, once and in order, then
to another fresh ledger duplicated, shuffled, partly at the same moment and mixed with stale
and badly signed copies, leave the same ledger (donations, monthly gifts, donor emails)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import text

from campaign.donations.events import APPLY_EVENTS
from campaign.donations.gateway import gateway
from campaign.extensions import db
from tests.donations.ledger_kit import (
    event_body,
    ledger_snapshot,
    make_attempt,
    pay_once,
    run_drain,
    signature_header,
    stripe_client,
    subscribe,
)
from tests.donations.test_ledger import renewal_invoice

LEDGER_TABLES = ("donor_emails", "donations", "monthly_gifts", "stripe_events", "supporters")


def _post(origin: str, body: str, header: str) -> int:
    return requests.post(f"{origin}/stripe/webhook", data=body.encode(), timeout=10,
                         headers={"Stripe-Signature": header,
                                  "Content-Type": "application/json"}).status_code


def _fresh_ledger(app) -> None:
    """The ledger emptied; the gift attempts (the donor flow's rows) stay, as in a
    restore of the database from before the first event."""
    with app.app_context():
        db.session.execute(text(f"TRUNCATE {', '.join(LEDGER_TABLES)} CASCADE"))
        db.session.commit()


def _record_a_run(app, origin: str, secret: str, gift_page: str, wait_for_events) -> None:
    """Gifts made on the local Stripe server (its own events arrive) and the events it
    never sends, signed here and posted as Stripe would."""
    stripe = stripe_client(app)
    payments = []
    for amount, tribute in ((5000, "honouree@example.org"), (2500, ""), (1000, "")):
        attempt_id, page_id = make_attempt(app, gift_page, amount=amount,
                                           email=f"donor{amount}@example.org",
                                           tribute_email=tribute)
        payments.append(pay_once(app, attempt_id, page_id, amount))
    monthly_a, page_id = make_attempt(app, gift_page, amount=1500, frequency="monthly",
                                      email="monthly-a@example.org")
    monthly_b, _ = make_attempt(app, gift_page, amount=800, frequency="monthly",
                                email="monthly-b@example.org")
    sub_a = subscribe(app, monthly_a, page_id, 1500)
    sub_b = subscribe(app, monthly_b, page_id, 800)
    for pi in payments:
        wait_for_events(pi["id"], "payment_intent.succeeded")
    for sub in (sub_a, sub_b):
        wait_for_events(sub["id"], "customer.subscription.created", "invoice.paid")

    def send(event_type: str, obj: dict, created: int | None = None) -> None:
        body = event_body(event_type, obj, created=created)
        assert _post(origin, body, signature_header(body, secret)) == 200

    # Refunds: one partial, one partial then full.
    first, second = payments[0], payments[1]
    stripe.v1.refunds.create(params={"payment_intent": first["id"], "amount": 700})
    send("charge.refunded", {**first["latest_charge"], "amount_refunded": 700})
    stripe.v1.refunds.create(params={"payment_intent": second["id"], "amount": 500})
    send("charge.refunded", {**second["latest_charge"], "amount_refunded": 500})
    stripe.v1.refunds.create(params={"payment_intent": second["id"], "amount": 2000})
    send("charge.refunded", {**second["latest_charge"], "amount_refunded": 2500})
    # A dispute on the third, opened then lost.
    now = int(time.time())
    dispute = {"id": "dp_replay", "object": "dispute", "amount": 1000,
               "charge": payments[2]["latest_charge"]["id"], "reason": "fraudulent"}
    send("charge.dispute.created", {**dispute, "status": "needs_response"}, now - 20)
    send("charge.dispute.updated", {**dispute, "status": "under_review"}, now - 10)
    send("charge.dispute.closed", {**dispute, "status": "lost"}, now)
    # Gift A: renewed for month 2, then its amount changed by Stripe's API.
    send("invoice.paid", renewal_invoice(sub_a, "in_replay_a2", "pi_replay_a2",
                                         sub_a["current_period_end"] + 31 * 86400))
    with app.app_context():
        gateway().change_subscription_amount(sub_a["id"], 2000, "replay-change-a")
    send("customer.subscription.updated", {**sub_a, "status": "active"})
    # Gift B: month 2 fails until the gift ends (and Stripe sends the deletion).
    failing = renewal_invoice(sub_b, "in_replay_b2", "pi_replay_b2",
                              sub_b["current_period_end"] + 31 * 86400, status="open")
    for attempt in range(1, app.config["DONATION_MAX_PAYMENT_FAILURES"] + 1):
        send("invoice.payment_failed", {**failing, "attempt_count": attempt})
        run_drain(app)  # applied as they come, as a worker would
    wait_for_events(sub_b["id"], "customer.subscription.deleted")
    run_drain(app)


def test_replayed_events_leave_the_ledger_as_delivery_once_in_order(
        app, query, gift_page, webhook_origin, wait_for_events, local_stripe):
    secret = local_stripe.webhook_secret
    _record_a_run(app, webhook_origin, secret, gift_page, wait_for_events)
    live = ledger_snapshot(query)
    bodies = [body for (body,) in query(
        "SELECT payload FROM stripe_events ORDER BY received_at, id")]
    assert len(bodies) >= 25

    # Once, in order, to a fresh ledger.
    _fresh_ledger(app)
    for body in bodies:
        assert _post(webhook_origin, body, signature_header(body, secret)) == 200
    run_drain(app)
    in_order = ledger_snapshot(query)
    assert in_order == live
    assert len(in_order["donations"]) == 6 and len(in_order["gifts"]) == 2
    assert any(gift[3] == "canceled" and gift[6] == "ended after 3 failed payments"
               for gift in in_order["gifts"].values())

    # Duplicated, shuffled, partly concurrent, with stale and badly signed copies.
    _fresh_ledger(app)
    rng = random.Random(12)
    deliveries = [(body, signature_header(body, secret), 200) for body in bodies]
    deliveries += [(body, signature_header(body, secret), 200)
                   for body in rng.sample(bodies, k=int(len(bodies) * 0.3))]
    stale_at = int(time.time()) - 3600
    deliveries += [(body, signature_header(body, secret, stale_at), 400)
                   for body in rng.sample(bodies, k=5)]
    deliveries += [(body, signature_header(body, "whsec_not_stripe"), 400)
                   for body in rng.sample(bodies, k=5)]
    deliveries += [(body.replace('"amount', '"amount_x', 1) if '"amount' in body
                    else body + " ", signature_header(body, secret), 400)
                   for body in rng.sample(bodies, k=5)]
    rng.shuffle(deliveries)
    sequential, concurrent = deliveries[: len(deliveries) // 2], deliveries[len(deliveries) // 2:]

    drains_running = threading.Event()

    def drain_meanwhile() -> None:  # two workers applying while events still arrive
        while not drains_running.is_set():
            with app.app_context():
                app.extensions["celery"].tasks[APPLY_EVENTS].apply()
            time.sleep(0.05)

    workers = [threading.Thread(target=drain_meanwhile) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for body, header, expected in sequential:
            assert _post(webhook_origin, body, header) == expected
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda d: _post(webhook_origin, d[0], d[1]), concurrent))
        assert statuses == [expected for _, _, expected in concurrent]
    finally:
        drains_running.set()
        for worker in workers:
            worker.join(30)
    run_drain(app)

    assert query("SELECT count(*) FROM stripe_events") == [(len(bodies),)]
    assert ledger_snapshot(query) == in_order
