"""A real worker SIGKILLed while applying many events: a new worker sweeps the dead one's
claims and applies everything; no Donation twice, no receipt queued twice."""

from __future__ import annotations

import random
import time

import pytest

from campaign import create_app, outbox
from campaign.donations.events import APPLY_EVENTS, SWEEP_EVENTS
from tests.conftest import WorkerProcess
from tests.donations.ledger_kit import event_body, make_attempt, post_event

CLAIM_EXPIRES = 5
PAYMENTS = 150


@pytest.mark.worker
def test_a_killed_worker_leaves_every_event_applied_once(app_settings, worker_env, gift_page,
                                                       query, tmp_path):
    queue = f"{app_settings['CELERY_QUEUE']}-kill-ledger"
    # Every drain's claims short: a starting worker sweeps again once the longest expired.
    timings = {drain.claim_expiry_setting: CLAIM_EXPIRES
               for drain in outbox.registry.drains.values()}
    crash_app = create_app({**app_settings, **timings, "CELERY_QUEUE": queue})
    env = {**worker_env, "CELERY_QUEUE": queue,
           **{key: str(value) for key, value in timings.items()}}
    attempts = [make_attempt(crash_app, gift_page, email=f"donor{n}@example.org")
                for n in range(3)]
    secret = app_settings["STRIPE_WEBHOOK_SECRET"]
    rng = random.Random(7)
    bodies, refunded = [], {}
    for n in range(PAYMENTS):
        attempt_id, page_id = attempts[n % 3]
        pi_id = f"pi_kill_{n}"
        bodies.append(event_body("payment_intent.succeeded", {
            "id": pi_id, "object": "payment_intent", "status": "succeeded",
            "amount": 2000 + n, "amount_received": 2000 + n, "currency": "usd",
            "created": int(time.time()), "latest_charge": None,
            "metadata": {"gift_attempt": str(attempt_id), "page": str(page_id)}}))
        if n % 5 == 0:  # some refunded, the news of it maybe first
            refunded[pi_id] = 500
            bodies.append(event_body("charge.refunded", {
                "id": f"ch_kill_{n}", "object": "charge", "payment_intent": pi_id,
                "amount": 2000 + n, "amount_refunded": 500}))
    deliveries = bodies + rng.sample(bodies, k=len(bodies) // 3)
    rng.shuffle(deliveries)
    client = crash_app.test_client()
    for body in deliveries:
        assert post_event(client, body, secret).status_code == 200
    crash_app.extensions["drain_asker"].flush()

    def applied() -> int:
        return query("SELECT count(*) FROM stripe_events WHERE status = 'applied'")[0][0]

    worker = WorkerProcess(env, tmp_path / "killed-worker.log", concurrency=2)
    worker.start()
    with crash_app.app_context():
        for _ in range(2):
            outbox.enqueue(APPLY_EVENTS)
    deadline = time.monotonic() + 60
    while applied() < 20:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    worker.kill()
    at_kill = applied()
    assert at_kill < len(bodies), "the kill came too late to test anything"

    replacement = WorkerProcess(env, tmp_path / "replacement-worker.log", concurrency=2)
    replacement.start()
    try:
        deadline = time.monotonic() + 120
        next_beat = time.monotonic() + 10
        while applied() < len(bodies):
            assert time.monotonic() < deadline, (applied(), len(bodies), query(
                "SELECT status, count(*) FROM stripe_events GROUP BY status"))
            if time.monotonic() >= next_beat:  # what beat does every SWEEP_EVERY_SECONDS
                with crash_app.app_context():
                    outbox.enqueue(SWEEP_EVENTS)
                next_beat = time.monotonic() + 10
            time.sleep(0.5)
    finally:
        replacement.stop()

    print(f"applied at the kill {at_kill} of {len(bodies)}")
    assert query("SELECT count(*), count(DISTINCT stripe_payment_intent_id) FROM donations") \
        == [(PAYMENTS, PAYMENTS)]
    assert query("SELECT count(*), count(DISTINCT donation_id) FROM donor_emails "
                 "WHERE kind = 'receipt'") == [(PAYMENTS, PAYMENTS)]
    assert dict(query("SELECT stripe_payment_intent_id, amount_refunded FROM donations "
                      "WHERE amount_refunded > 0")) == refunded
    assert query("SELECT count(*) FROM supporters") == [(3,)]
