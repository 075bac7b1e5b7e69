"""A staff member builds a page in real headless Chromium with JavaScript switched off,
and a supporter then finds it live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.staff.conftest import PASSWORD, create_staff  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def test_staff_build_a_page_preview_it_and_make_it_live(no_script_page, create_staff, app,  # noqa: F811
                                                         query):
    create_staff()
    page = no_script_page.page
    page.goto(f"{no_script_page.origin}/staff/login")
    page.get_by_label("Email").fill("ana.staff@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="New page").click()
    page.get_by_label("Or a new campaign").fill("Labour exports")
    page.get_by_label("Title").fill("Stop buying forced labour")
    page.get_by_label("The argument").fill("Its wages pay for **missiles**.")
    page.get_by_label("Goal").fill("250")
    page.locator("#cards-0-claim").fill("Workers abroad earn wages the state keeps.")
    page.locator("#cards-0-source_title").fill("UN Panel of Experts")
    page.locator("#cards-0-source_url").fill("https://www.un.org/panel")
    page.get_by_role("button", name="Create the page").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Edit: Stop buying forced labour")
    expect(page.locator(".flash")).to_contain_text("Page saved (draft)")
    page.get_by_role("link", name="Preview").click()
    expect(page.locator(".preview-banner")).to_contain_text("supporters cannot see it yet")
    expect(page.locator(".body strong")).to_have_text("missiles")
    page.get_by_role("link", name="Back to editing").click()

    page.get_by_label("Status").select_option("live")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Page saved (live)")
    app.extensions["page_caches"].clear()  # the server's caches, in this process
    page.goto(f"{no_script_page.origin}/a/stop-buying-forced-labour")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop buying forced labour")
    expect(page.locator(".card .source a")).to_have_text("UN Panel of Experts")
    expect(page.get_by_role("button", name="Sign")).to_be_visible()
    assert no_script_page.foreign_requests() == []
    assert query("SELECT status, goal FROM action_pages") == [("live", 250)]
