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
    no script error may happen on its pages."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))

    def local_only(route):
        url = route.request.url
        if same_origin(url, live_server) or same_origin(url, local_stripe.api_base):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    yield page
    context.close()
    assert errors == []


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



def test_a_monthly_gift_sets_up_the_card_then_subscribes(js_page, live_server, slug, query,
                                                         local_stripe):
    fill_amount_step(js_page, live_server, slug, monthly=True, amount="$10")
    expect(js_page.locator("#gift-amount")).to_have_text("$10 a month")
    fill_card(js_page, "4242424242424242")
    give_button(js_page).click()
    expect_thanks(js_page)
    [(status, subscription_id, amount)] = query(
        "SELECT status, stripe_subscription_id, amount FROM gift_attempts")
    assert (status, amount) == ("succeeded", 1000)
    subscription = stripe_client(local_stripe).v1.subscriptions.retrieve(subscription_id)
    assert subscription.status == "active"
    assert subscription.metadata.to_dict()["page"] == str(query(
        "SELECT id FROM action_pages")[0][0])
    assert subscription["items"].data[0].quantity == 1000  # 1 cent a month, 1000 times


def test_3d_secure_completed_succeeds(js_page, live_server, slug, query):
    fill_amount_step(js_page, live_server, slug)
    fill_card(js_page, "4000002500003155")
    give_button(js_page).click()
    js_page.get_by_role("button", name="Complete authentication").click()
    expect_thanks(js_page)
    assert query("SELECT status FROM gift_attempts") == [("succeeded",)]


def test_3d_secure_failed_says_so_and_the_donor_may_retry(js_page, live_server, slug, query):
    fill_amount_step(js_page, live_server, slug)
    fill_card(js_page, "4000002500003155")
    give_button(js_page).click()
    js_page.get_by_role("button", name="Fail authentication").click()
    expect(js_page.locator("#card-error")).to_contain_text("3-D Secure", timeout=30_000)
    assert query("SELECT status, failed_confirmations FROM gift_attempts") == [
        ("processing", 1)]
    # Another try with a card that works, on the same PaymentIntent.
    fill_card(js_page, "4242424242424242")
    give_button(js_page).click()
    expect_thanks(js_page)
    assert query("SELECT count(DISTINCT stripe_payment_intent_id), min(status) "
                 "FROM gift_attempts") == [(1, "succeeded")]


def test_a_declined_card_says_declined(js_page, live_server, slug, query):
    fill_amount_step(js_page, live_server, slug)
    fill_card(js_page, "4000000000000341")
    give_button(js_page).click()
    expect(js_page.locator("#card-error")).to_contain_text("declined", timeout=30_000)
    expect(give_button(js_page)).to_be_enabled()
    assert query("SELECT status, failed_confirmations FROM gift_attempts") == [
        ("processing", 1)]


def test_the_amount_step_works_without_javascript_and_loads_nothing_foreign(
        no_script_page, slug, query):
    page = no_script_page.page
    page.goto(f"{no_script_page.origin}/a/{slug}")
    expect(page.get_by_text("Payments on this site are simulated: no card is charged."
                            )).to_be_visible()
    page.get_by_label("Other amount", exact=True).check()
    page.get_by_label("Your amount").fill("0.5")
    page.get_by_label("First name").fill("Min-ji")
    page.get_by_label("Last name").fill("Cho")
    page.get_by_label("Email", exact=True).fill("min-ji@example.org")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("The smallest gift we can take here is $1.")).to_be_visible()
    page.get_by_label("Your amount").fill("40")
    page.get_by_label("Monthly", exact=True).check()
    page.get_by_label("Add 3").check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/give/[A-Za-z0-9_-]+$"))
    expect(page.locator("#gift-total")).to_have_text("$41.20")
    assert no_script_page.foreign_requests() == []
    assert query("SELECT amount, fee_amount, frequency FROM gift_attempts") == [
        (4000, 120, "monthly")]


def test_after_signing_the_thank_you_asks_for_a_gift(js_page, live_server, slug,
                                                     create_page, query):
    petition = create_page(title="Stop forced returns")
    js_page.goto(f"{live_server}/a/{petition}")
    js_page.get_by_label("First name").fill("Min-ji")
    js_page.get_by_label("Last name").fill("Cho")
    js_page.get_by_label("Email", exact=True).fill("min-ji@example.org")
    js_page.get_by_role("button", name="Sign").click()
    expect(js_page.get_by_role("heading", level=1)).to_have_text("Thank you for signing")
    ask = js_page.locator("section.gift-ask")
    expect(ask).to_contain_text("Fund the research")
    ask.get_by_label("$50", exact=True).check()
    ask.get_by_label("First name").fill("Min-ji")
    ask.get_by_label("Last name").fill("Cho")
    ask.get_by_label("Email", exact=True).fill("min-ji@example.org")
    ask.get_by_role("button", name="Continue to payment").click()
    expect(js_page).to_have_url(re.compile(r"/give/[A-Za-z0-9_-]+$"))
    assert query("SELECT count(*) FROM actions") == [(1,)]  # the signature, once
    fill_card(js_page, "4242424242424242")
    give_button(js_page).click()
    expect_thanks(js_page)
    assert query("SELECT amount, source, status FROM gift_attempts") == [
        (5000, "thank-you", "succeeded")]


def test_a_declined_monthly_gift_cancels_its_subscription(js_page, live_server, slug, query,
                                                          local_stripe):
    fill_amount_step(js_page, live_server, slug, monthly=True)
    fill_card(js_page, "4000000000000341")
    give_button(js_page).click()
    expect(js_page.locator("#card-error")).to_contain_text("declined", timeout=30_000)
    [(status, failed, subscription_id)] = query(
        "SELECT status, failed_confirmations, stripe_subscription_id FROM gift_attempts")
    assert (status, failed) == ("failed", 1)
    subscription = stripe_client(local_stripe).v1.subscriptions.retrieve(subscription_id)
    assert subscription.status == "canceled"
    # Back on the card step, the donor is sent to start again.
    js_page.reload()
    expect(js_page.get_by_role("alert")).to_contain_text("This gift could not be completed")
    expect(give_button(js_page)).to_have_count(0)


def test_a_monthly_gift_whose_3d_secure_fails_says_so(js_page, live_server, slug, query):
    fill_amount_step(js_page, live_server, slug, monthly=True)
    fill_card(js_page, "4000002500003155")
    give_button(js_page).click()
    js_page.get_by_role("button", name="Fail authentication").click()
    expect(js_page.locator("#card-error")).to_contain_text("3-D Secure", timeout=30_000)
    assert query("SELECT status, failed_confirmations, stripe_subscription_id "
                 "FROM gift_attempts") == [("failed", 1, None)]


def test_a_monthly_gift_with_3d_secure_completed(js_page, live_server, slug, query,
                                                 local_stripe):
    fill_amount_step(js_page, live_server, slug, monthly=True)
    fill_card(js_page, "4000002500003155")
    give_button(js_page).click()
    # The local server asks again for the first month's charge (Stripe may not).
    js_page.get_by_role("button", name="Complete authentication").click()
    js_page.get_by_role("button", name="Complete authentication").click()
    expect_thanks(js_page)
    [(subscription_id,)] = query("SELECT stripe_subscription_id FROM gift_attempts")
    assert stripe_client(local_stripe).v1.subscriptions.retrieve(
        subscription_id).status == "active"
