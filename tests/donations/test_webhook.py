"""POST /stripe/webhook: only Stripe's signature on the raw body gets an event stored, once."""

from __future__ import annotations

import time

import pytest

from tests.donations.ledger_kit import event_body, post_event, signature_header


@pytest.fixture
def secret(app) -> str:
    return app.config["STRIPE_WEBHOOK_SECRET"]


def _stored(query) -> list[tuple]:
    return query("SELECT id, type, status FROM stripe_events ORDER BY id")


def test_a_signed_event_is_stored_once_and_a_duplicate_answers_200(client, secret, query):
    body = event_body("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"},
                      event_id="evt_once")
    first = post_event(client, body, secret)
    again = post_event(client, body, secret)  # the same bytes, a fresh signature
    replayed = post_event(client, body, secret, header=first.request.headers.get(
        "Stripe-Signature"))  # Stripe's retry of the very same delivery
    assert [first.status_code, again.status_code, replayed.status_code] == [200, 200, 200]
    assert _stored(query) == [("evt_once", "payment_intent.succeeded", "pending")]
    [(payload,)] = query("SELECT payload FROM stripe_events")
    assert payload == body  # the verified body, as received


@pytest.mark.parametrize("header, why", [
    (None, "Missing Stripe-Signature"),
    ("t=1,v1=abc", "Bad or stale signature"),
    ("garbage", "Bad or stale signature"),
])
def test_a_missing_or_bad_signature_is_refused(client, secret, query, header, why):
    body = event_body("charge.refunded", {"id": "ch_x"})
    headers = {"Content-Type": "application/json"}
    if header:
        headers["Stripe-Signature"] = header
    response = client.post("/stripe/webhook", data=body, headers=headers)
    assert response.status_code == 400
    assert why in response.get_data(as_text=True)
    assert _stored(query) == []


def test_a_body_changed_after_signing_is_refused(client, secret, query):
    body = event_body("charge.refunded", {"id": "ch_x", "amount_refunded": 100})
    header = signature_header(body, secret)
    tampered = body.replace('"amount_refunded": 100', '"amount_refunded": 9900')
    response = client.post("/stripe/webhook", data=tampered,
                           headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert _stored(query) == []


def test_a_stale_signature_is_refused(client, secret, query):
    body = event_body("charge.refunded", {"id": "ch_x"})
    stale = signature_header(body, secret, timestamp=int(time.time()) - 3600)
    response = post_event(client, body, secret, header=stale)
    assert response.status_code == 400
    assert "stale" in response.get_data(as_text=True)
    assert _stored(query) == []


def test_another_secret_s_signature_is_refused(client, query):
    body = event_body("charge.refunded", {"id": "ch_x"})
    response = post_event(client, body, "whsec_someone_else")
    assert response.status_code == 400
    assert _stored(query) == []


def test_a_signed_body_that_is_no_event_is_refused(client, secret, query):
    for body in ("not json", '{"id": "evt_1"}', '["evt_1"]', '{"id": 5, "type": "x", '
                                                            '"created": 1}'):
        response = post_event(client, body, secret)
        assert response.status_code == 400, body
        assert "Not a Stripe event" in response.get_data(as_text=True)
    assert _stored(query) == []


def test_a_body_too_large_for_an_event_is_refused(client, secret, query):
    body = event_body("invoice.paid", {"id": "in_x", "padding": "x" * 600_000})
    assert post_event(client, body, secret).status_code == 413
    assert _stored(query) == []


def test_an_event_larger_than_a_form_is_stored(client, secret, query):
    # Bigger than the app's 64 KB form limit: an invoice with many lines.
    body = event_body("invoice.paid", {"id": "in_x", "lines": {"data": [
        {"id": f"il_{n}", "description": "Monthly gift " * 10} for n in range(700)]}})
    assert len(body) > 64 * 1024
    assert post_event(client, body, secret).status_code == 200
    assert [row[0] for row in _stored(query)] == [query(
        "SELECT id FROM stripe_events")[0][0]]


def test_the_webhook_needs_no_csrf_token_and_is_not_rate_limited(client, secret, query):
    # The public forms' limit is per address; Stripe posts bursts from a few addresses.
    for n in range(40):
        body = event_body("customer.created", {"id": f"cus_{n}"}, event_id=f"evt_burst_{n}")
        assert post_event(client, body, secret).status_code == 200
    assert len(_stored(query)) == 40


def test_the_flask_view_answers_as_the_fast_path_does(app, secret, query):
    """A delivery without a Content-Length (chunked) reaches Flask's view: same checks."""
    from campaign.donations.webhook import stripe_webhook

    body = event_body("customer.created", {"id": "cus_view"}, event_id="evt_view")
    for header, expected in ((signature_header(body, secret), 200), ("t=1,v1=x", 400)):
        with app.test_request_context("/stripe/webhook", method="POST", data=body,
                                      headers={"Stripe-Signature": header}):
            assert stripe_webhook()[1] == expected
    assert _stored(query) == [("evt_view", "customer.created", "pending")]
