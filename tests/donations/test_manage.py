"""A monthly donor's own pages, by the signed links in their emails, against the local
Stripe-compatible server through the official SDK: GET changes nothing, POST cancels or
changes the amount at Stripe and in our row; forged and expired links are a 404 and a
410 that say so; the card page loads Stripe.js under its own CSP and saves a new card."""

from __future__ import annotations

import random
import re
import time
from urllib.parse import quote

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from campaign.donations.gateway import gateway
from campaign.donations.gift_links import CARD_SALT, MANAGE_SALT, make_token
from campaign.extensions import db
from tests.donations import ledger_rows
from tests.helpers import CSRF_PATTERN, page_token


@pytest.fixture
def stripe_client(local_stripe) -> stripe.StripeClient:
    return stripe.StripeClient(local_stripe.secret_key,
                               base_addresses={"api": local_stripe.api_base})


def card_payment_method(stripe_client, number: str = "4242424242424242") -> str:
    """A card PaymentMethod made by the test, as Stripe.js would in the donor's browser."""
    return stripe_client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034,
                                 "cvc": "123"}}).id


@pytest.fixture
def monthly_gift(app, stripe_client):
    """A live subscription at the local Stripe and its MonthlyGift row; returns a maker."""

    def make(amount: int = 1500, *, fee_covered: int = 0, fee_basis_points: int = 0,
             currency: str = "usd", minimum: int = 500, maximum: int = 100000) -> dict:
        attempt = random.randrange(10**8, 10**9)  # the gateway's keys: new for each gift
        with app.app_context():
            gw = gateway()
            customer = gw.create_customer(attempt, "monthly@example.org", "Ji-woo Park").id
            gw.make_default_card(customer, card_payment_method(stripe_client))
            subscription = gw.create_subscription(attempt, customer, amount, currency, {})
            assert subscription.status == "active"
            page = ledger_rows.donation_page(f"monthly-{attempt}", currency=currency,
                                             minimum=minimum, maximum=maximum,
                                             fee_basis_points=fee_basis_points)
            donor = ledger_rows.supporter(f"donor-{attempt}@example.org")
            gift_id = ledger_rows.monthly_gift(page, donor, amount, currency=currency,
                                               subscription_id=subscription.id,
                                               customer_id=customer, fee_covered=fee_covered)
            db.session.commit()
            return {"id": gift_id, "subscription": subscription.id, "customer": customer,
                    "manage": f"/gifts/manage/{make_token(gift_id, MANAGE_SALT)}",
                    "card": f"/gifts/card/{make_token(gift_id, CARD_SALT)}"}

    return make


def subscription(stripe_client, subscription_id: str) -> tuple[str, int]:
    found = stripe_client.v1.subscriptions.retrieve(subscription_id)
    return found.status, found["items"]["data"][0]["quantity"]


def gift_row(query, gift_id: int) -> tuple:
    [row] = query("SELECT status, amount, fee_covered, ended_reason, ended_at IS NOT NULL "
                  "FROM monthly_gifts WHERE id = :id", id=gift_id)
    return row


def test_opening_the_link_shows_the_gift_and_changes_nothing(
        client, monthly_gift, stripe_client, query):
    gift = monthly_gift(1500)
    before = gift_row(query, gift["id"])
    for _ in range(2):  # a mail scanner, then the donor
        page = client.get(gift["manage"])
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "You give <strong>$15</strong> a month" in html
        assert 'value="15"' in html and "Between $5 and $1,000 a month" in html
        assert page.headers["Cache-Control"] == "no-store"
        assert '<meta name="referrer" content="no-referrer">' in html
    assert subscription(stripe_client, gift["subscription"]) == ("active", 1500)
    assert gift_row(query, gift["id"]) == before


def test_the_donor_cancels_their_gift_at_stripe_and_here(
        client, monthly_gift, stripe_client, query):
    gift = monthly_gift(2000)
    token = page_token(client, gift["manage"])
    done = client.post(gift["manage"], data={"csrf_token": token, "action": "cancel"})
    assert done.status_code == 200
    assert "Your monthly gift is cancelled." in done.get_data(as_text=True)
    assert subscription(stripe_client, gift["subscription"])[0] == "canceled"
    assert gift_row(query, gift["id"]) == ("canceled", 2000, 0, "cancelled by the donor", True)

    again = client.post(gift["manage"], data={"csrf_token": token, "action": "cancel"})
    assert again.status_code == 200  # a second press: still cancelled, no error
    assert "This gift has ended" in client.get(gift["manage"]).get_data(as_text=True)


def test_the_donor_changes_the_amount_of_their_gift(client, monthly_gift, stripe_client, query):
    gift = monthly_gift(1500)
    token = page_token(client, gift["manage"])
    done = client.post(gift["manage"], data={"csrf_token": token, "action": "change",
                                             "amount": "25.50"})
    assert done.status_code == 200
    assert "you give $25.50 a month" in done.get_data(as_text=True)
    assert subscription(stripe_client, gift["subscription"]) == ("active", 2550)
    assert gift_row(query, gift["id"]) == ("active", 2550, 0, "", False)

    # Back to the first amount, then the second again: each is made at Stripe.
    for typed, minor in (("15", 1500), ("25.50", 2550)):
        client.post(gift["manage"], data={"csrf_token": token, "action": "change",
                                          "amount": typed})
        assert subscription(stripe_client, gift["subscription"]) == ("active", minor)
        assert gift_row(query, gift["id"])[1] == minor


def test_a_donor_who_covers_the_fee_keeps_covering_it_on_the_new_amount(
        client, monthly_gift, stripe_client, query):
    gift = monthly_gift(1545, fee_covered=45, fee_basis_points=300)  # $15 + 3 %
    token = page_token(client, gift["manage"])
    assert 'value="15"' in client.get(gift["manage"]).get_data(as_text=True)
    client.post(gift["manage"], data={"csrf_token": token, "action": "change", "amount": "20"})
    assert subscription(stripe_client, gift["subscription"]) == ("active", 2060)
    assert gift_row(query, gift["id"])[1:3] == (2060, 60)


@pytest.mark.parametrize(("typed", "message"), [
    ("1", "The smallest monthly gift is $5."),
    ("5000", "The largest monthly gift is $1,000."),
    ("twenty", "Enter the amount as a number, such as 25 or 25.50."),
    ("", "Enter an amount."),
    ("10.505", "Enter at most two digits after the point."),
    ("10\x00", "Please use a single line without special characters."),
])
def test_an_amount_outside_the_page_s_limits_is_refused_and_changes_nothing(
        client, monthly_gift, stripe_client, query, typed, message):
    gift = monthly_gift(1500)
    token = page_token(client, gift["manage"])
    refused = client.post(gift["manage"], data={"csrf_token": token, "action": "change",
                                                "amount": typed})
    assert refused.status_code == 400
    assert message in refused.get_data(as_text=True)
    assert subscription(stripe_client, gift["subscription"]) == ("active", 1500)
    assert gift_row(query, gift["id"]) == ("active", 1500, 0, "", False)


def test_zero_decimal_amounts_are_changed_in_whole_won(client, monthly_gift, stripe_client):
    gift = monthly_gift(10000, currency="krw", minimum=1000, maximum=1_000_000)
    token = page_token(client, gift["manage"])
    assert "Between ₩1,000 and ₩1,000,000" in client.get(gift["manage"]).get_data(as_text=True)
    refused = client.post(gift["manage"], data={"csrf_token": token, "action": "change",
                                                "amount": "15000.5"})
    assert "This currency has no smaller unit than 1." in refused.get_data(as_text=True)
    client.post(gift["manage"], data={"csrf_token": token, "action": "change",
                                      "amount": "15,000"})
    assert subscription(stripe_client, gift["subscription"]) == ("active", 15000)


def test_a_post_without_the_form_s_token_changes_nothing(client, monthly_gift, stripe_client):
    gift = monthly_gift(1500)
    client.get(gift["manage"])  # the cookie, but no token: a cross-site form
    refused = client.post(gift["manage"], data={"action": "cancel"})
    assert refused.status_code == 400
    assert subscription(stripe_client, gift["subscription"]) == ("active", 1500)


def expired_token(app, gift_id: int, salt: str) -> str:
    """A link made GIFT_MANAGE_LINK_DAYS and a day ago: the signer's clock set back."""
    days = app.config["GIFT_MANAGE_LINK_DAYS"] + 1

    class LastMonthsSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 86400

    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt,
                                  signer=LastMonthsSigner).dumps(gift_id)


def test_forged_and_expired_links_say_so_and_change_nothing(
        app, client, monthly_gift, stripe_client, query):
    gift = monthly_gift(1500)
    token = page_token(client, gift["manage"])
    real = gift["manage"].rsplit("/", 1)[1]
    with app.app_context():
        other_key = URLSafeTimedSerializer("not-our-key", salt=MANAGE_SALT).dumps(gift["id"])
        card_link = make_token(gift["id"], CARD_SALT)
        expired = expired_token(app, gift["id"], MANAGE_SALT)
    forged = {"tampered": real[:-2] + ("AA" if not real.endswith("AA") else "BB"),
              "another key": other_key, "the card link's": card_link,
              "not a token": "hello", "too long": "x" * 500, "cut short": real[:20],
              "no such gift": URLSafeTimedSerializer(
                  app.config["SECRET_KEY"], salt=MANAGE_SALT).dumps(999_999_999),
              "not an id": URLSafeTimedSerializer(
                  app.config["SECRET_KEY"], salt=MANAGE_SALT).dumps("1; DROP TABLE x")}
    for name, bad in forged.items():
        for response in (client.get(f"/gifts/manage/{bad}"),
                         client.post(f"/gifts/manage/{bad}",
                                     data={"csrf_token": token, "action": "cancel"})):
            assert response.status_code == 404, name
            html = response.get_data(as_text=True)
            assert "Nothing about your gift was changed." in html, name
    for response in (client.get(f"/gifts/manage/{expired}"),
                     client.post(f"/gifts/manage/{expired}",
                                 data={"csrf_token": token, "action": "cancel"}),
                     client.get(f"/gifts/card/{expired_token(app, gift['id'], CARD_SALT)}")):
        assert response.status_code == 410
        assert "This link has expired" in response.get_data(as_text=True)
    assert subscription(stripe_client, gift["subscription"]) == ("active", 1500)
    assert gift_row(query, gift["id"]) == ("active", 1500, 0, "", False)


def test_the_card_page_loads_stripe_js_under_its_own_policy_only(
        app, client, monthly_gift, local_stripe):
    gift = monthly_gift(1500)
    card = client.get(gift["card"])
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    assert f'<script src="{local_stripe.js_url}"></script>' in html
    policy = card.headers["Content-Security-Policy"]
    assert re.search(rf"script-src 'self' {re.escape(local_stripe.api_base)}(;| )", policy)
    assert re.search(rf"connect-src 'self' {re.escape(local_stripe.api_base)}(;| )", policy)
    assert "frame-src" in policy and "form-action 'self'" in policy
    # Every other page keeps the site's own policy: nothing from another origin.
    manage = client.get(gift["manage"])
    assert "127.0.0.1" not in manage.headers["Content-Security-Policy"]
    assert "<script" not in manage.get_data(as_text=True)
    # Reloading the page reuses its SetupIntent.
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    assert secret in client.get(gift["card"]).get_data(as_text=True)


def test_a_new_card_saved_on_the_card_page_becomes_the_gift_s_card(
        app, client, monthly_gift, stripe_client):
    gift = monthly_gift(1500)
    html = client.get(gift["card"]).get_data(as_text=True)
    token = CSRF_PATTERN.search(html).group(1)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    setup_intent = secret.split("_secret_")[0]
    # What Stripe.js does in the browser: the card goes to Stripe, never to us.
    new_card = card_payment_method(stripe_client, "5555555555554444")
    stripe_client.v1.setup_intents.confirm(setup_intent, params={"payment_method": new_card})

    done = client.post(gift["card"], data={"csrf_token": token, "setup_intent": setup_intent})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "Your new card is saved" in done.get_data(as_text=True)
    customer = stripe_client.v1.customers.retrieve(gift["customer"])
    assert customer["invoice_settings"]["default_payment_method"] == new_card


def test_a_setup_intent_of_someone_else_or_unfinished_is_refused(
        app, client, monthly_gift, stripe_client):
    mine, theirs = monthly_gift(1500), monthly_gift(1500)
    html = client.get(mine["card"]).get_data(as_text=True)
    token = CSRF_PATTERN.search(html).group(1)
    unfinished = re.search(r'data-client-secret="([^"]+)"', html).group(1).split("_secret_")[0]
    their_html = client.get(theirs["card"]).get_data(as_text=True)
    their_setup = re.search(r'data-client-secret="([^"]+)"', their_html) \
        .group(1).split("_secret_")[0]
    stripe_client.v1.setup_intents.confirm(
        their_setup, params={"payment_method": card_payment_method(stripe_client)})
    for setup_intent in (unfinished, their_setup, "seti_nonexistent", "pm_123", ""):
        refused = client.post(mine["card"], data={"csrf_token": token,
                                                  "setup_intent": setup_intent})
        assert refused.status_code == 400, setup_intent
        assert "Your new card is saved" not in refused.get_data(as_text=True)


def test_the_development_server_logs_no_gift_link(app, monthly_gift, caplog):
    """The links act on a gift: the access log records their paths without the token."""
    import logging
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    from tests.servers import free_port

    gift = monthly_gift(1500)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    caplog.set_level(logging.INFO, logger="werkzeug")
    try:
        for path in (gift["manage"], gift["card"]):
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}",
                                        timeout=30) as response:
                assert response.status == 200
    finally:
        server.shutdown()
        thread.join()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "GET /gifts/manage/<redacted>" in logged and "GET /gifts/card/<redacted>" in logged
    for path in (gift["manage"], gift["card"]):
        assert path.rsplit("/", 1)[1] not in logged


def failed_renewal(stripe_client, gift: dict) -> str:
    """A month's invoice the gift's card could not pay, left open, as Stripe leaves a
    failed renewal (the local server has no renewals: the test makes one)."""
    declining = card_payment_method(stripe_client, "4000000000000341")
    stripe_client.v1.payment_methods.attach(declining, params={"customer": gift["customer"]})
    stripe_client.v1.customers.update(gift["customer"], params={
        "invoice_settings": {"default_payment_method": declining}})
    stripe_client.v1.invoice_items.create(params={
        "customer": gift["customer"], "amount": 1500, "currency": "usd",
        "subscription": gift["subscription"]})
    invoice = stripe_client.v1.invoices.create(params={
        "customer": gift["customer"], "subscription": gift["subscription"]})
    try:
        stripe_client.v1.invoices.pay(invoice.id)
    except stripe.CardError:
        pass  # Stripe's own answer to a declined renewal; the local server leaves it open
    assert stripe_client.v1.invoices.retrieve(invoice.id).status == "open"
    return invoice.id


def save_card_through_page(client, stripe_client, gift: dict, number: str):
    html = client.get(gift["card"]).get_data(as_text=True)
    token = CSRF_PATTERN.search(html).group(1)
    setup_intent = re.search(r'data-client-secret="([^"]+)"', html).group(1) \
        .split("_secret_")[0]
    stripe_client.v1.setup_intents.confirm(
        setup_intent, params={"payment_method": card_payment_method(stripe_client, number)})
    return client.post(gift["card"], data={"csrf_token": token, "setup_intent": setup_intent})


def test_the_new_card_pays_the_month_that_failed(app, client, monthly_gift, stripe_client):
    gift = monthly_gift(1500)
    invoice = failed_renewal(stripe_client, gift)
    done = save_card_through_page(client, stripe_client, gift, "4242424242424242")
    assert done.status_code == 200
    assert "This month's payment went through with it." in done.get_data(as_text=True)
    assert stripe_client.v1.invoices.retrieve(invoice).status == "paid"


def test_a_new_card_that_is_declined_too_says_so(app, client, monthly_gift, stripe_client):
    gift = monthly_gift(1500)
    invoice = failed_renewal(stripe_client, gift)
    done = save_card_through_page(client, stripe_client, gift, "4000000000000341")
    assert done.status_code == 200
    assert "this month's payment did not go through" in done.get_data(as_text=True)
    assert stripe_client.v1.invoices.retrieve(invoice).status == "open"


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
ANYTHING = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "\x00", "0", "-5", "1e9", "9" * 30, str(2**31), "NaN", "5,00", "₩5", "$5", " 7 ",
     "<script>", "٣٠", "10.", ".5", "1,000,000,000"]))


def test_no_input_to_the_manage_form_is_a_server_error(client, monthly_gift, stripe_client):
    gift = monthly_gift(1500)
    token = page_token(client, gift["manage"])

    @FUZZ
    @given(amount=ANYTHING, action=st.sampled_from(["change", "", "delete", "\x00", "Cancel"]))
    def post(amount, action):
        response = client.post(gift["manage"], data={"csrf_token": token, "action": action,
                                                     "amount": amount})
        assert response.status_code in (200, 400), (amount, action, response.status_code)

    post()
    assert subscription(stripe_client, gift["subscription"])[0] == "active"


def test_no_link_is_a_server_error(client):
    @FUZZ
    @given(token=ANYTHING, which=st.sampled_from(["manage", "card"]),
           method=st.sampled_from(["get", "post"]))
    def visit(token, which, method):
        response = getattr(client, method)(f"/gifts/{which}/{quote(token, safe='')}")
        assert response.status_code < 500, (token, response.status_code)

    visit()
