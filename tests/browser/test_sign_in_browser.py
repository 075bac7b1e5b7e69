"""Signing an action page in real headless Chromium with JavaScript switched off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/campaign-page.png"


def counts(query) -> tuple[int, int, int]:
    return tuple(query(f"SELECT count(*) FROM {t}")[0][0]
                 for t in ("supporters", "actions", "consents"))


def open_page(no_script_page, create_page, **fields):
    slug = create_page(**fields)
    page = no_script_page.page
    response = page.goto(f"{no_script_page.origin}/a/{slug}")
    assert response.status == 200
    return slug, page


def fill_signature(page, email: str = "ji-woo@example.org") -> None:
    page.get_by_label("First name").fill("Ji-woo")
    page.get_by_label("Last name").fill("Park")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("ZIP or postal code").fill("10001")


def test_signing_without_javascript_records_the_signature_and_thanks(
        no_script_page, create_page, query):
    slug, page = open_page(
        no_script_page, create_page, title="Stop forced repatriation", goal=500,
        summary="Tell the government: no one should be sent back to a labour camp.",
        cards=[("Labour exports fund missiles.", "Bush Institute, 2017",
                "https://www.bushcenter.org/"),
               ("Returnees are interrogated and often imprisoned.", "UN COI report, 2014",
                "https://www.ohchr.org/")])

    expect(page).to_have_title("Stop forced repatriation · Test Organisation")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop forced repatriation")
    card = page.locator(".evidence .card").first
    expect(card).to_be_visible()
    expect(card).to_contain_text("Labour exports fund missiles.")
    expect(page.locator(".thermometer progress")).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)

    fill_signature(page)
    page.get_by_label("Keep me informed about this campaign by email.").check()
    page.get_by_role("button", name="Sign").click()

    page.wait_for_url(f"**/a/{slug}/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for signing")
    expect(page.locator(".thermometer")).to_contain_text("1 person has acted")
    assert query("SELECT email, first_name, last_name, postal_code FROM supporters") == [
        ("ji-woo@example.org", "Ji-woo", "Park", "10001")]
    assert query("SELECT thank_you_status FROM actions") == [("pending",)]
    assert query("SELECT kind FROM consents") == [("email_updates",)]

    assert any(url.endswith("/static/css/site.css") for url in no_script_page.requested)
    assert no_script_page.foreign_requests() == []


def test_invalid_email_is_marked_beside_the_field_and_nothing_is_written(
        no_script_page, create_page, query):
    slug, page = open_page(no_script_page, create_page)
    fill_signature(page, email="not-an-email")

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign").click()

    assert posted.value.status == 400
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_value("not-an-email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "email-error")
    message = page.locator(".field.has-error #email-error")
    expect(message).to_be_visible()
    expect(message).to_have_text("Please check your email address: it doesn't look complete.")
    expect(page.get_by_label("First name")).to_have_value("Ji-woo")
    assert counts(query) == (0, 0, 0)
    assert no_script_page.foreign_requests() == []
