"""The webhook's insert and the events drain's claim, apply, sweep and backlog, run dozens of
times on one pooled PostgreSQL connection (see tests/letters/test_one_connection.py: after
five runs psycopg prepares a statement, and a generic plan can no longer match a partial
index's predicate to a bound parameter)."""

from __future__ import annotations

import time

from campaign.donations.events import APPLY_EVENTS, SWEEP_EVENTS, oldest_event_due_since
from campaign.extensions import db
from tests.donations.ledger_kit import event_body, make_attempt, post_event
from tests.helpers import backend_pid, prepared_statements

RUNS = 30


def test_webhook_and_drain_work_on_the_30th_run_of_one_connection(one_connection_app,
                                                                 gift_page, query):
    app = one_connection_app
    attempt_id, page_id = make_attempt(app, gift_page, amount=1000)
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    client = app.test_client()
    tasks = app.extensions["celery"].tasks
    with app.app_context():
        pid = backend_pid()
    for n in range(RUNS):
        # A payment Stripe does not know: the ledger takes the event's own object.
        pi = {"id": f"pi_one_connection_{n}", "object": "payment_intent", "status": "succeeded",
              "amount": 1000 + n, "amount_received": 1000 + n, "currency": "usd",
              "created": int(time.time()), "latest_charge": None,
              "metadata": {"gift_attempt": str(attempt_id), "page": str(page_id)}}
        body = event_body("payment_intent.succeeded", pi, event_id=f"evt_one_connection_{n}")
        assert post_event(client, body, secret).status_code == 200
        assert post_event(client, body, secret).status_code == 200  # a duplicate
        with app.app_context():
            assert oldest_event_due_since() is not None  # what /healthz asks
            db.session.commit()  # the tasks' own contexts need the one connection
        tasks[SWEEP_EVENTS].apply()
        tasks[APPLY_EVENTS].apply()
        with app.app_context():
            assert oldest_event_due_since() is None
            assert backend_pid() == pid
    assert query("SELECT status, count(*) FROM stripe_events GROUP BY status") == [
        ("applied", RUNS)]
    assert query("SELECT count(*), count(DISTINCT supporter_id) FROM donations") == [(RUNS, 1)]
    assert query("SELECT count(*) FROM donor_emails WHERE kind = 'receipt'") == [(RUNS,)]
    with app.app_context():
        assert prepared_statements() > 0
