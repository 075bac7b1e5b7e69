"""The embedded default (SQLite, tasks run in-process after the commit): a signed event is
stored once and applied at once, as on PostgreSQL."""

from __future__ import annotations

import time

from tests.conftest import page_maker, sql_reader
from tests.donations.ledger_kit import event_body, make_attempt, post_event


def test_an_event_is_stored_once_and_applied_in_process(embedded_app):
    slug = page_maker(embedded_app)(slug="give-here")
    attempt_id, page_id = make_attempt(embedded_app, slug, amount=2500, fee=75)
    pi = {"id": "pi_sqlite_1", "object": "payment_intent", "status": "succeeded",
          "amount": 2575, "amount_received": 2575, "currency": "usd",
          "created": int(time.time()), "latest_charge": None,
          "metadata": {"gift_attempt": str(attempt_id), "page": str(page_id)}}
    body = event_body("payment_intent.succeeded", pi, event_id="evt_sqlite_1")
    refund = event_body("charge.refunded", {"id": "ch_sqlite_1", "payment_intent": pi["id"],
                                            "amount_refunded": 575})
    client = embedded_app.test_client()
    secret = embedded_app.config["STRIPE_WEBHOOK_SECRET"]
    for payload in (body, body, refund):
        assert post_event(client, payload, secret).status_code == 200
    embedded_app.extensions["drain_asker"].flush()
    query = sql_reader(embedded_app)
    assert query("SELECT id, status FROM stripe_events ORDER BY id")[0] == (
        "evt_sqlite_1", "applied")
    assert query("SELECT amount, fee_covered, amount_refunded, status FROM donations") == [
        (2575, 75, 575, "partially_refunded")]
    assert query("SELECT email FROM supporters") == [("hana.kim@example.org",)]
    assert len(query("SELECT dedupe_key FROM donor_emails WHERE kind = 'receipt'")) == 1
