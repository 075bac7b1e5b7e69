"""Giving in real headless Chromium: the amount step (no script needed), then the card
step with the local Stripe-compatible server's Stripe.js, whose card element is plain
inputs and whose 3-D Secure dialog has two buttons."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import same_origin
from tests.donations.giving import donation_page, stripe_client

pytestmark = pytest.mark.browser


@pytest.fixture
def js_page(browser: Browser, live_server: str, local_stripe) -> Iterator[Page]:
    """A tab with JavaScript on that may reach only the app and the local Stripe server;
    every request it makes is kept in `page.requested`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requested = []
    page.console_lines = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.on("console", lambda message: page.console_lines.append(message.text))
    page.on("pageerror", lambda error: page.console_lines.append(f"pageerror: {error} {error.stack}"))

    def local_only(route):
        url = route.request.url
        if same_origin(url, live_server) or same_origin(url, local_stripe.api_base):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    yield page
    context.close()


@pytest.fixture
def slug(app, create_page):
    return donation_page(app, create_page, title="Fund the research")


def fill_amount_step(page: Page, origin: str, slug: str, *, monthly: bool = False,
                     amount: str = "$25") -> None:
    page.goto(f"{origin}/a/{slug}")
    page.get_by_label(amount, exact=True).check()
    if monthly:
        page.get_by_label("Monthly", exact=True).check()
    page.get_by_label("First name").fill("Min-ji")
    page.get_by_label("Last name").fill("Cho")
    page.get_by_label("Email", exact=True).fill("min-ji@example.org")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/give/[A-Za-z0-9_-]+$"))


def fill_card(page: Page, number: str) -> None:
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10001")


def give_button(page: Page):
    return page.get_by_role("button", name=re.compile(r"^Give "))


def expect_thanks(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/give/[A-Za-z0-9_-]+/thanks$"), timeout=30_000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, Min-ji")


def test_a_one_time_gift_with_a_card_that_works(js_page, live_server, slug, query):
    fill_amount_step(js_page, live_server, slug)
    expect(js_page.get_by_text("Payments on this site are simulated: no card is charged."
                               )).to_be_visible()
    fill_card(js_page, "4242424242424242")
    give_button(js_page).click()
    expect_thanks(js_page)
    assert query("SELECT amount, status FROM gift_attempts") == [(2500, "succeeded")]

