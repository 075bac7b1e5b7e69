"""The dunning email's card page in headless Chromium: Stripe.js (the local Stripe's) loads
under the page's own CSP, the donor types a card into Stripe's fields, 3-D Secure
included, and the gift's customer charges it from then on; nothing on the page is
blocked and no card number reaches our server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.donations.test_manage import monthly_gift, stripe_client  # noqa: F401 (fixtures)


@pytest.fixture
def card_page(browser: Browser, live_server: str) -> Iterator[tuple[Page, list[str], list]]:
    """A tab with JavaScript on that reaches loopback only; the console's CSP complaints
    and every request's body are kept for the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    complaints: list[str] = []
    posted: list = []
    page.on("console", lambda message: complaints.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("request", lambda request: posted.append((request.url, request.post_data))
            if request.method == "POST" else None)

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    yield page, complaints, posted
    context.close()


def type_card(page: Page, number: str) -> None:
    # The local Stripe.js draws plain inputs where Stripe's own draws its iframe.
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("10001")


def default_card(stripe_client, customer: str) -> str | None:  # noqa: F811
    return stripe_client.v1.customers.retrieve(customer)["invoice_settings"][
        "default_payment_method"]


def test_a_donor_saves_a_new_card_on_the_card_page(
        card_page, live_server, monthly_gift, stripe_client):  # noqa: F811
    page, complaints, posted = card_page
    gift = monthly_gift(1500)
    old_card = default_card(stripe_client, gift["customer"])
    page.goto(live_server + gift["card"])
    expect(page.get_by_role("heading", name="Update the card for your monthly gift")) \
        .to_be_visible()
    type_card(page, "4242424242424242")
    page.get_by_role("button", name="Save this card").click()
    expect(page.get_by_role("heading", name="Your new card is saved")).to_be_visible()

    new_card = default_card(stripe_client, gift["customer"])
    assert new_card and new_card != old_card
    assert complaints == []
    ours = [body or "" for url, body in posted if url.startswith(live_server)]
    assert ours and not any("4242" in body for body in ours)


def test_a_card_needing_3d_secure_is_saved_once_the_bank_says_yes_and_not_if_no(
        card_page, live_server, monthly_gift, stripe_client):  # noqa: F811
    page, complaints, _ = card_page
    gift = monthly_gift(1500)
    old_card = default_card(stripe_client, gift["customer"])
    page.goto(live_server + gift["card"])
    type_card(page, "4000002500003155")
    page.get_by_role("button", name="Save this card").click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#card-errors")).to_contain_text("authentication failed")
    assert default_card(stripe_client, gift["customer"]) == old_card

    page.goto(live_server + gift["card"])  # a new try, from the email's link again
    type_card(page, "4000002500003155")
    page.get_by_role("button", name="Save this card").click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("heading", name="Your new card is saved")).to_be_visible()
    assert default_card(stripe_client, gift["customer"]) not in (None, old_card)
    assert complaints == []
