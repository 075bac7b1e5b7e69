# ruff: noqa: F401, F811 - pytest fixtures imported from tests.donations.staff_helpers
"""Refunds from the donation's staff page: admins only, through the gateway to the local
Stripe server, checked against what is left (the local server would take an over-refund),
once however often the form is sent, and recorded in the activity record."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from campaign.extensions import db
from tests.donations.staff_helpers import (  # noqa: F401 - fixtures
    admin,
    charge_refunded,
    create_staff,
    donation_page,
    editor,
    make_donation,
    real_charge,
)
from tests.helpers import wait_until
from tests.staff.conftest import page_text, page_token

FORM_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SEEN = re.compile(r'name="refunds_seen" type="hidden" value="(\d+)"')


@pytest.fixture
def charged(donation_page, make_donation, real_charge) -> dict:
    """A real $50 charge and its ledger row."""
    _, page_id = donation_page()
    paid = real_charge(5000)
    donation_id = make_donation(
        stripe_payment_intent_id=paid["payment_intent"], stripe_charge_id=paid["charge"],
        amount=5000, action_page_id=page_id)
    return {**paid, "id": donation_id}


def refund_form(client, donation_id: int) -> dict:
    """The refund form's hidden fields, as the page showed them."""
    html = client.get(f"/staff/donations/{donation_id}").get_data(as_text=True)
    return {"csrf_token": FORM_TOKEN.search(html).group(1),
            "refunds_seen": SEEN.search(html).group(1)}


def post_refund(client, donation_id: int, amount: str, reason: str = "", form=None):
    form = form or refund_form(client, donation_id)
    return client.post(f"/staff/donations/{donation_id}/refund",
                       data={**form, "amount": amount, "reason": reason})


def ledger(query, donation_id: int) -> tuple:
    [row] = query("SELECT amount_refunded, status FROM donations WHERE id = :i", i=donation_id)
    return row


def test_a_partial_then_a_full_refund_reach_stripe_and_the_ledger(
        admin, charged, local_stripe, query):
    response = post_refund(admin, charged["id"], "12.00", "asked by phone")
    assert response.status_code == 303
    assert charge_refunded(local_stripe, charged["charge"]) == 1200
    assert ledger(query, charged["id"]) == (1200, "partially_refunded")
    page = page_text(admin.get(response.headers["Location"]))
    assert "Refunded $12." in page and "$38" in page  # what is left, offered next

    assert post_refund(admin, charged["id"], "38").status_code == 303
    assert charge_refunded(local_stripe, charged["charge"]) == 5000
    assert ledger(query, charged["id"]) == (5000, "refunded")
    refunds = query("SELECT amount, status, reason, stripe_refund_id LIKE 're_%' "
                    "FROM donation_refunds ORDER BY id")
    assert refunds == [(1200, "succeeded", "asked by phone", True),
                       (3800, "succeeded", "", True)]
    page = page_text(admin.get(f"/staff/donations/{charged['id']}"))
    assert "Nothing is left to refund." in page and 'name="amount"' not in page
    events = query("SELECT actor, kind, subject, detail FROM staff_events "
                   "WHERE kind LIKE 'donation.%' ORDER BY id")
    assert [(kind, subject) for _, kind, subject, _ in events] == [
        ("donation.refund_requested", f"donation {charged['id']}"),
        ("donation.refunded", f"donation {charged['id']}")] * 2
    assert {actor for actor, *_ in events} == {"ada.admin@example.org"}
    # The reason stays on the refund row (erasure empties it), out of the activity record.
    assert "$12" in events[0][3] and "asked by phone" not in events[0][3]


def test_more_than_is_left_is_refused_and_stripe_is_not_asked(
        admin, charged, local_stripe, query):
    assert post_refund(admin, charged["id"], "20").status_code == 303
    response = post_refund(admin, charged["id"], "30.01")
    assert response.status_code == 400
    assert ("At most $30 is left to refund on this donation; $30.01 was not refunded."
            in page_text(response))
    assert charge_refunded(local_stripe, charged["charge"]) == 2000
    assert ledger(query, charged["id"]) == (2000, "partially_refunded")
    assert query("SELECT count(*) FROM donation_refunds") == [(1,)]


@pytest.mark.parametrize("typed, message", [
    ("abc", "Enter the amount as a number"),
    ("12.345", "Enter at most two digits after the point."),
    ("0", "Enter an amount above zero."),
    ("", "Enter the amount to refund."),
    ("-5", "Enter the amount as a number"),
])
def test_an_amount_that_is_not_one_is_refused_with_a_message(
        admin, charged, local_stripe, query, typed, message):
    response = post_refund(admin, charged["id"], typed)
    assert response.status_code == 400
    assert message in page_text(response)
    assert charge_refunded(local_stripe, charged["charge"]) == 0
    assert query("SELECT count(*) FROM donation_refunds") == [(0,)]


def test_the_same_form_sent_twice_refunds_once(admin, charged, local_stripe, query):
    form = refund_form(admin, charged["id"])
    first = post_refund(admin, charged["id"], "10", form=form)
    second = post_refund(admin, charged["id"], "10", form=form)
    assert first.status_code == 303
    assert second.status_code == 409
    assert "another refund since this page was shown" in page_text(second)
    assert charge_refunded(local_stripe, charged["charge"]) == 1000
    assert ledger(query, charged["id"]) == (1000, "partially_refunded")
    assert query("SELECT amount, status FROM donation_refunds") == [(1000, "succeeded")]


def test_two_copies_sent_at_the_same_moment_refund_once(app, admin, charged, local_stripe,
                                                       query):
    """Both requests wait on the donation's row lock, held here, and then race for it."""
    form = refund_form(admin, charged["id"])
    answers: list[int] = []

    def send() -> None:
        answers.append(post_refund(admin, charged["id"], "10", form=form).status_code)

    with app.app_context():
        # A connection of its own: the app's pool is the requests'.
        holder = create_engine(db.engine.url, poolclass=NullPool).connect()
        held = holder.begin()
        holder.execute(text("SELECT id FROM donations WHERE id = :i FOR UPDATE"),
                       {"i": charged["id"]})
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            # Asked in a new transaction each time: PostgreSQL keeps one snapshot of
            # pg_stat_activity for a whole transaction, such as the holder's.
            wait_until(lambda: query(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()") == [(2,)],
                message="both refunds waiting for the donation")
        finally:
            held.rollback()
            holder.close()
        for thread in threads:
            thread.join(30)
    assert sorted(answers) == [303, 409]
    assert charge_refunded(local_stripe, charged["charge"]) == 1000
    assert query("SELECT amount, status FROM donation_refunds") == [(1000, "succeeded")]


def test_a_form_whose_hidden_count_was_tampered_with_is_refused(admin, charged, query):
    form = {**refund_form(admin, charged["id"]), "refunds_seen": "many"}
    response = post_refund(admin, charged["id"], "10", form=form)
    assert response.status_code == 400
    assert "The form is incomplete: reload the page and try again." in page_text(response)
    assert query("SELECT count(*) FROM donation_refunds") == [(0,)]


def test_an_editor_sees_the_donation_but_cannot_refund(editor, charged, local_stripe, query):
    page = editor.get(f"/staff/donations/{charged['id']}")
    assert page.status_code == 200
    text = page_text(page)
    assert charged["payment_intent"] in text and 'name="amount"' not in text
    assert "Refunds are made by your organisation's admins." in text
    token = FORM_TOKEN.search(page.get_data(as_text=True)).group(1)
    response = editor.post(f"/staff/donations/{charged['id']}/refund",
                           data={"csrf_token": token, "refunds_seen": "0", "amount": "50"})
    assert response.status_code == 403
    assert charge_refunded(local_stripe, charged["charge"]) == 0
    assert query("SELECT count(*) FROM donation_refunds") == [(0,)]


def test_a_stripe_error_shows_a_message_and_records_a_failed_refund(
        admin, donation_page, make_donation, query):
    # A ledger row whose PaymentIntent the Stripe server does not know: it answers 404.
    _, page_id = donation_page()
    donation_id = make_donation(stripe_payment_intent_id="pi_unknown_to_stripe",
                                amount=3000, action_page_id=page_id)
    response = post_refund(admin, donation_id, "10")
    assert response.status_code == 303
    page = page_text(admin.get(response.headers["Location"]))
    assert "Stripe did not make the refund of $10:" in page
    assert ledger(query, donation_id) == (0, "succeeded")
    [(status, error)] = query("SELECT status, error FROM donation_refunds")
    assert status == "failed" and error
    assert query("SELECT kind FROM staff_events WHERE kind LIKE 'donation.%' ORDER BY id") == [
        ("donation.refund_requested",), ("donation.refund_failed",)]
    # The failed refund does not use up the money: the full amount can still be refunded.
    assert "$30" in page and 'name="amount"' in page


def test_a_zero_decimal_currency_is_refunded_in_whole_won(
        admin, donation_page, make_donation, real_charge, local_stripe, query):
    _, page_id = donation_page()
    paid = real_charge(50000, "krw")
    donation_id = make_donation(stripe_payment_intent_id=paid["payment_intent"],
                                stripe_charge_id=paid["charge"], amount=50000,
                                currency="krw", action_page_id=page_id)
    assert "₩50,000" in page_text(admin.get(f"/staff/donations/{donation_id}"))
    refused = post_refund(admin, donation_id, "100.5")
    assert refused.status_code == 400
    assert "This currency has no smaller unit than 1." in page_text(refused)
    assert post_refund(admin, donation_id, "5,000").status_code == 303
    assert charge_refunded(local_stripe, paid["charge"]) == 5000
    assert ledger(query, donation_id) == (5000, "partially_refunded")


def test_an_unknown_donation_is_404(admin):
    assert admin.get("/staff/donations/999999").status_code == 404
    token = page_token(admin, "/staff/account")
    response = admin.post("/staff/donations/999999/refund",
                          data={"csrf_token": token, "refunds_seen": "0", "amount": "5"})
    assert response.status_code == 404
