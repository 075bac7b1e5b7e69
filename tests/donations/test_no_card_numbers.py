"""No card number reaches us: after gifts made in Chromium with test cards (one-time,
3-D Secure, declined, monthly), no PAN-like digit run (13 to 19 digits, spaces or hyphens
allowed between them, passing the Luhn check) is in any column of any table, in any log
record of the run, or in any email the SMTP sink received."""

from __future__ import annotations

import logging
import re
import threading

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import text

from campaign.extensions import db
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, live_server  # noqa: F401
from tests.browser.test_give_in_browser import (
    expect_thanks,
    fill_amount_step,
    fill_card,
    give_button,
)
from tests.donations.giving import donation_page

pytestmark = pytest.mark.browser

CARDS = ("4242424242424242", "4000002500003155", "4000000000000341")
DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,18}(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def pan_like_runs(value: str) -> list[str]:
    found = []
    for match in DIGIT_RUN.finditer(value):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(digits)
    return found


def test_the_checker_finds_card_numbers_however_they_are_written():
    assert pan_like_runs("card 4242 4242 4242 4242, exp 12/34") == ["4242424242424242"]
    assert pan_like_runs("x4000-0025-0000-3155y") == ["4000002500003155"]
    assert pan_like_runs("pi_3N4242424242424241 1733040000") == []


def every_row_as_text(app) -> list[str]:
    with app.app_context():
        rows = []
        for table in db.metadata.sorted_tables:
            # The whole row as PostgreSQL writes it: every column, whatever its type.
            rows.extend(value for (value,) in db.session.execute(
                text(f'SELECT CAST(t AS text) FROM "{table.name}" t')))
        return rows


def give_in_chromium(origin: str, slug: str) -> None:
    """A declined card, a 3-D Secure card, then a monthly gift, in one Chromium tab.

    In a thread of its own: the browser tests' session Chromium (tests/browser) holds
    Playwright's event loop in the main thread, and a second sync Playwright may not run
    in a thread that has one."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page()
                fill_amount_step(page, origin, slug)
                fill_card(page, "4000000000000341")
                give_button(page).click()
                page.locator("#card-error").get_by_text("declined").wait_for(timeout=30_000)
                fill_card(page, "4000002500003155")
                give_button(page).click()
                page.get_by_role("button", name="Complete authentication").click()
                expect_thanks(page)
                fill_amount_step(page, origin, slug, monthly=True)
                fill_card(page, "4242424242424242")
                give_button(page).click()
                expect_thanks(page)
                browser.close()
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(180)
    if failures:
        raise failures[0]


def test_no_card_number_is_stored_logged_or_mailed(live_server, app, create_page,  # noqa: F811
                                                   query, smtp_sink, caplog):
    caplog.set_level(logging.DEBUG)
    slug = donation_page(app, create_page, title="Fund the research")
    give_in_chromium(live_server, slug)
    assert query("SELECT frequency, status FROM gift_attempts ORDER BY id") == [
        ("one_time", "succeeded"), ("monthly", "succeeded")]

    rows = every_row_as_text(app)
    assert any("min-ji@example.org" in row for row in rows)  # the dump does see our data
    logs = [record.getMessage() for record in caplog.records]
    assert any("/give/" in line for line in logs)  # the card step's requests were logged
    mails = [mail.data.decode("utf-8", "replace") for mail in smtp_sink.received]
    for where, texts in (("tables", rows), ("logs", logs), ("emails", mails)):
        for value in texts:
            assert pan_like_runs(value) == [], f"a card-like number in the {where}: {value}"
            assert not any(card in re.sub(r"[ -]", "", value) for card in CARDS), where
