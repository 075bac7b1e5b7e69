"""Writing to representatives in real headless Chromium with JavaScript switched off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaign.extensions import db
from campaign.letters.services import save_settings
from tests.letters.conftest import congress  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def test_a_supporter_chooses_a_district_previews_and_sends_letters(
        no_script_page, app, create_page, congress, query):  # noqa: F811
    slug = create_page(kind="letter", title="Enforce the sanctions")
    with app.app_context():
        save_settings(slug, subject="Enforce the forced-labour sanctions",
                      body_template="Please enforce the sanctions, {target_title}.",
                      targets_house=True, targets_senate=True)
        db.session.commit()
    page = no_script_page.page
    page.goto(f"{no_script_page.origin}/a/{slug}")

    page.get_by_label("First name").fill("Hye-jin")
    page.get_by_label("Last name").fill("Cho")
    page.get_by_label("Email", exact=True).fill("hye-jin@example.org")
    page.get_by_label("Town or city").fill("Adamsville")
    page.get_by_label("ZIP or postal code").fill("35005")
    letter = page.get_by_label("Your letter")
    expect(letter).to_have_value("Please enforce the sanctions, {target_title}.")
    letter.fill("In my own words: please enforce the sanctions, {target_title}.")
    page.get_by_role("button", name="Preview my letter").click()

    # ZIP 35005 touches two districts: the supporter chooses, nothing is guessed.
    expect(page.get_by_role("heading", name="Which district do you live in?")).to_be_visible()
    page.get_by_label("AL-7").check()
    page.get_by_role("button", name="Continue").click()

    letters = page.locator("article.letter")
    expect(letters).to_have_count(3)
    expect(letters.first).to_contain_text("Dear Representative Terri A. Sewell,")
    expect(letters.first).to_contain_text("please enforce the sanctions, Representative for AL-7.")
    expect(letters.first).to_contain_text("Sincerely,\nHye-jin Cho\nAdamsville 35005")
    page.get_by_role("button", name="Send 3 letters").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you: your letters are on their way")
    # The same page after every send: the status link travels only in the receipt.
    expect(page.locator("section.thanks")).to_contain_text("Check your email")
    assert no_script_page.foreign_requests() == []
    assert query("SELECT count(*), bool_and(is_personalised) FROM letters") == [(3, True)]
