"""What the give tests share: a live donation page with its settings, the amount step
posted as a browser posts it, the proof-of-work solved as the widget solves it, and
Stripe reached through its official SDK (tests only) to play the browser's part."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import replace

import altcha
import stripe

from campaign.donations.page_settings import GivingChoices, save_settings
from campaign.extensions import db
from campaign.pages import services as page_services
from tests.helpers import csrf_token

USD = GivingChoices(
    currency="usd", suggested=(1000, 2500, 5000, 10000), default_amount=2500,
    minimum_amount=100, maximum_amount=1_000_000, offer_one_time=True, offer_monthly=True,
    default_frequency="one_time", fee_cover_basis_points=300, tribute_enabled=True,
    goal_amount=5_000_000)
KRW = replace(USD, currency="krw", suggested=(5000, 10000, 50000), default_amount=10000,
              minimum_amount=1000, maximum_amount=10_000_000, goal_amount=0)

CARD_STEP = re.compile(r"/give/([A-Za-z0-9_-]+)$")
TOKEN_IN_PAGE = re.compile(r'data-csrf-token="([^"]+)"')


def donation_page(app, create_page, choices: GivingChoices = USD, **fields) -> str:
    slug = create_page(kind="donation", **fields)
    with app.app_context():
        page = page_services.load_page_view(slug)
        save_settings(page.id, choices)
        db.session.commit()
    return slug


def gift_form(**fields: str) -> dict:
    data = {"amount": "25", "custom_amount": "", "currency": "usd", "frequency": "one_time",
            "first_name": "Min-ji", "last_name": "Cho", "email": "min-ji@example.org"}
    data.update(fields)
    return data


def post_gift(client, slug: str, **fields: str):
    token = csrf_token(client, slug)
    return client.post(f"/a/{slug}/give", data={"csrf_token": token, **gift_form(**fields)})


def open_card_step(client, slug: str, **fields: str) -> tuple[str, str]:
    """Posts the amount step; returns the card step's token and the page's JSON token."""
    response = post_gift(client, slug, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    token = CARD_STEP.search(response.headers["Location"]).group(1)
    page = client.get(f"/give/{token}")
    assert page.status_code == 200
    return token, TOKEN_IN_PAGE.search(page.get_data(as_text=True)).group(1)


def solved_challenge(client) -> str:
    """The widget's work, done by the library: a base64 payload for the start call."""
    challenge = altcha.Challenge.from_dict(client.get("/give/challenge").get_json())
    solution = altcha.solve_challenge(challenge)
    return altcha.Payload(challenge, solution).to_base64()


def start(client, token: str, csrf: str, payload: str | None = None):
    """The start call with `payload`, or a freshly solved challenge when None."""
    if payload is None:
        payload = solved_challenge(client)
    return client.post(f"/give/{token}/start", json={"altcha": payload},
                       headers={"X-CSRF-Token": csrf})


def finish(client, token: str, csrf: str):
    return client.post(f"/give/{token}/finish", json={}, headers={"X-CSRF-Token": csrf})


def stripe_client(local_stripe) -> stripe.StripeClient:
    return stripe.StripeClient(local_stripe.secret_key,
                               base_addresses={"api": local_stripe.api_base})


def pay_with_card(local_stripe, client_secret: str, number: str) -> dict:
    """What Stripe.js does with the card the donor typed: it sends it to Stripe (here the
    local server's route its Stripe.js uses) with the PaymentIntent's client secret.
    Returns the PaymentIntent, or {"error": code} for a declined card."""
    pi_id = client_secret.split("_secret_")[0]
    request = urllib.request.Request(
        f"{local_stripe.api_base}/_config/payment_intents/{pi_id}/confirm_with_card",
        data=json.dumps({"client_secret": client_secret, "card": {
            "number": number, "exp_month": "12", "exp_year": "34", "cvc": "123"}}).encode(),
        method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return {"error": json.loads(error.read())["error"].get("code")}
