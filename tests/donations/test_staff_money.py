# ruff: noqa: F401, F811 - pytest fixtures imported from tests.donations.staff_helpers
"""Money where staff already look: the page report (count, net of refunds, by day, source
and UTM campaign), a donor's gifts on their supporter page, and erasure, which empties a
donor's gift attempts but keeps the ledger's amounts."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import String, Text, text

from campaign.extensions import db
from tests.donations.staff_helpers import (
    admin,
    create_staff,
    donation_page,
    editor,
    make_attempt,
    make_donation,
    make_monthly_gift,
)
from tests.staff.conftest import page_text, page_token

DAY_1 = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
DAY_2 = datetime(2026, 11, 4, 23, 59, tzinfo=timezone.utc)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table class="staff-table" id="{table_id}">(.*?)</table>', html, re.S)
    assert table, table_id
    body = table.group(1).split("<tbody>")[1]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_page_report_shows_money_by_day_source_and_utm_net_of_refunds(
        editor, donation_page, make_donation, make_monthly_gift):
    slug, page_id = donation_page(title="Winter appeal")
    make_donation(action_page_id=page_id, amount=2500, charged_at=DAY_1, source="mail",
                  utm_source="news", utm_medium="email", utm_campaign="winter")
    make_donation(action_page_id=page_id, amount=10000, amount_refunded=4000,
                  status="partially_refunded", charged_at=DAY_1, source="mail")
    make_donation(action_page_id=page_id, amount=5000, amount_refunded=5000,
                  status="refunded", charged_at=DAY_2, source="")
    make_donation(action_page_id=page_id, amount=1500, frequency="monthly", charged_at=DAY_2,
                  source="social", utm_source="news", utm_medium="email",
                  utm_campaign="winter")
    make_monthly_gift(action_page_id=page_id)
    make_monthly_gift(action_page_id=page_id, status="canceled")
    # Another page's gift counts on its own report only.
    _, other = donation_page()
    make_donation(action_page_id=other, amount=99900, charged_at=DAY_1)

    response = editor.get(f"/staff/pages/{slug}/report")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'id="money-count-usd">4<', html)
    assert re.search(r'id="money-net-usd">\$100<', html)  # 25 + 60 + 0 + 15
    assert re.search(r'id="money-monthly-running">1<', html)
    assert table_rows(html, "money-by-day") == [["2026-11-04", "USD", "2", "$15"],
                                                 ["2026-11-03", "USD", "2", "$85"]]
    assert table_rows(html, "money-by-source") == [["mail", "USD", "2", "$85"],
                                                    ["social", "USD", "1", "$15"],
                                                    ["(none)", "USD", "1", "$0"]]
    assert table_rows(html, "money-by-utm") == [["news", "email", "winter", "USD", "2", "$40"]]
    assert f'href="/staff/donations?page={page_id}"' in html


def test_a_petition_without_gifts_shows_no_money(editor, create_page):
    html = editor.get(f"/staff/pages/{create_page()}/report").get_data(as_text=True)
    assert 'id="money"' not in html and "Report:" in html


def test_won_are_shown_without_decimals_on_the_report(editor, donation_page, make_donation):
    slug, page_id = donation_page()
    make_donation(action_page_id=page_id, amount=50000, currency="krw", charged_at=DAY_1)
    html = editor.get(f"/staff/pages/{slug}/report").get_data(as_text=True)
    assert re.search(r'id="money-net-krw">₩50,000<', html)


@pytest.fixture
def donor(create_page, create_signature, query) -> int:
    create_signature(create_page(), email="min-ji.donor@example.org", first_name="Min-ji",
                     last_name="Kwon")
    [(supporter_id,)] = query("SELECT id FROM supporters WHERE email = :e",
                              e="min-ji.donor@example.org")
    return supporter_id


def test_the_supporter_page_lists_their_gifts_with_links(
        editor, donor, donation_page, make_donation, make_monthly_gift):
    _, page_id = donation_page(title="Legal fund")
    gift = make_monthly_gift(action_page_id=page_id, supporter_id=donor, amount=1500)
    monthly = make_donation(action_page_id=page_id, supporter_id=donor, frequency="monthly",
                            monthly_gift_id=gift, amount=1500, charged_at=DAY_2)
    once = make_donation(action_page_id=page_id, supporter_id=donor, amount=50000,
                         currency="krw", charged_at=DAY_1, amount_refunded=10000,
                         status="partially_refunded")
    make_donation(action_page_id=page_id, amount=7000)  # someone else's

    html = editor.get(f"/staff/supporters/{donor}").get_data(as_text=True)
    donations = table_rows(html, "supporter-donations")
    assert [row[3:] for row in donations] == [["Monthly", "$15", "succeeded"],
                                              ["One-time", "₩50,000", "partially refunded"]]
    assert f'href="/staff/donations/{monthly}"' in html
    assert f'href="/staff/donations/{once}"' in html
    assert table_rows(html, "supporter-monthly-gifts")[0][1:4] == ["Legal fund", "$15",
                                                                    "active"]
    assert f'href="/staff/monthly-gifts?gift={gift}"' in html
    one = editor.get(f"/staff/monthly-gifts?gift={gift}").get_data(as_text=True)
    assert re.findall(r'<tr id="monthly-(\d+)">', one) == [str(gift)]
    assert f'href="/staff/monthly-gifts?gift={gift}"' in editor.get(
        f"/staff/donations/{monthly}").get_data(as_text=True)
    assert "Given in all, net of refunds: ₩40,000, $15." in page_text(editor.get(
        f"/staff/supporters/{donor}"))
    # The donation's page links back to the donor.
    detail = editor.get(f"/staff/donations/{once}").get_data(as_text=True)
    assert f'href="/staff/supporters/{donor}"' in detail and "Min-ji Kwon" in detail


def test_a_supporter_who_never_gave_has_no_gifts_section(editor, donor):
    assert 'id="supporter-donations"' not in editor.get(
        f"/staff/supporters/{donor}").get_data(as_text=True)


NEEDLES = ["min-ji.donor@example.org", "min-ji", "kwon", "grandmother soon-ja",
           "soon-ja@example.net"]


def gift_tables_holding(app, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) wherever a needle is in the giving tables' text columns."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name not in ("gift_attempts", "donations", "monthly_gifts",
                                  "donor_emails", "donation_refunds"):
                continue
            for column in table.columns:
                if not isinstance(column.type, (String, Text)):
                    continue
                for needle in needles:
                    if db.session.execute(text(
                            f'SELECT count(*) FROM "{table.name}" '
                            f'WHERE strpos(lower("{column.name}"), :n) > 0'),
                            {"n": needle}).scalar():
                        found.append((table.name, column.name, needle))
    return found


@pytest.fixture
def donor_with_gifts(app, donor, donation_page, make_attempt, make_donation,
                     make_monthly_gift, query) -> dict:
    _, page_id = donation_page()
    once = make_attempt(page_id, email="min-ji.donor@example.org", first_name="Min-ji",
                        last_name="Kwon", tribute_kind="memory",
                        tribute_name="Grandmother Soon-ja",
                        tribute_notify_email="soon-ja@example.net", visitor_key="a" * 64)
    # Typed differently, found through the gift it made.
    monthly = make_attempt(page_id, email="MinJi.Old@Example.org", first_name="Min-ji",
                           last_name="Kwon", frequency="monthly")
    failed = make_attempt(page_id, email="min-ji.donor@example.org", status="failed",
                          last_error="Your card was declined, Min-ji Kwon.")
    stranger = make_attempt(page_id, email="stranger@example.org", first_name="Sam")
    donation = make_donation(action_page_id=page_id, supporter_id=donor,
                             gift_attempt_id=once, amount=5000, amount_refunded=1000,
                             status="partially_refunded")
    gift = make_monthly_gift(action_page_id=page_id, supporter_id=donor,
                             gift_attempt_id=monthly, amount=1500)
    with app.app_context():
        db.session.execute(text(
            "INSERT INTO donor_emails (dedupe_key, kind, donation_id, monthly_gift_id, "
            "supporter_id, status, attempts, last_error, created_at) VALUES "
            "(:r, 'receipt', :d, NULL, :s, 'pending', 0, '', now()), "
            "(:t, 'tribute', :d, NULL, NULL, 'pending', 0, '', now()), "
            "(:g, 'dunning', NULL, :m, :s, 'failed', 3, "
            " '550 <min-ji.donor@example.org> unknown', now()), "
            "(:y, 'statement', NULL, NULL, :s, 'sent', 1, '', "
            " now())"),
            {"y": f"statement:{donor}:2025", "r": f"receipt:{donation}",
             "t": f"tribute:{once}", "g": "dunning:in_1:1", "d": donation, "m": gift, "s": donor})
        db.session.execute(text(
            "INSERT INTO donation_refunds (donation_id, amount, reason, status, error, "
            "created_at) VALUES (:d, 1000, 'Min-ji Kwon asked by phone', 'succeeded', '', "
            "now())"), {"d": donation})
        db.session.commit()
    assert gift_tables_holding(app, NEEDLES)
    return {"attempts": [once, monthly, failed], "stranger": stranger,
            "donation": donation, "gift": gift}


def erase(client, supporter_id: int, email: str = "min-ji.donor@example.org"):
    token = page_token(client, f"/staff/supporters/{supporter_id}")
    return client.post(f"/staff/supporters/{supporter_id}/erase",
                       data={"csrf_token": token, "confirm_email": email})


def test_erasure_empties_gift_attempts_and_keeps_the_ledger(
        app, admin, donor, donor_with_gifts, query):
    response = erase(admin, donor)
    assert response.status_code == 303
    assert gift_tables_holding(app, NEEDLES) == []
    placeholder = f"erased-{donor}@erased.invalid"
    assert query("SELECT id, email, first_name, last_name, tribute_name, "
                 "tribute_notify_email, visitor_key, last_error FROM gift_attempts "
                 "ORDER BY id") == [
        *[(i, placeholder, "", "", "", "", "", "") for i in donor_with_gifts["attempts"]],
        (donor_with_gifts["stranger"], "stranger@example.org", "Sam", "", "", "", "", "")]
    # The money stays, linked to the (emptied) supporter.
    assert query("SELECT supporter_id, amount, amount_refunded FROM donations") == [
        (donor, 5000, 1000)]
    assert query("SELECT supporter_id, amount FROM monthly_gifts") == [(donor, 1500)]
    assert query("SELECT kind, status FROM donor_emails ORDER BY id") == [
        ("receipt", "skipped"), ("tribute", "skipped"), ("dunning", "failed"),
        ("statement", "sent")]
    [(detail,)] = query("SELECT detail FROM staff_events WHERE kind = 'supporter.erased'")
    assert detail == ("0 undelivered letters withdrawn; 3 gift attempts emptied, 2 donor "
                      "emails not sent; gifts kept in the ledger")
    # Staff still see the gift, without the person.
    html = admin.get(f"/staff/donations/{donor_with_gifts['donation']}").get_data(
        as_text=True)
    assert f"Erased supporter {donor}" in html and "Min-ji" not in html


def test_erasure_waits_while_an_email_to_the_donor_is_being_sent(
        app, admin, donor, donor_with_gifts, query):
    with app.app_context():
        db.session.execute(text("UPDATE donor_emails SET status = 'sending' "
                                "WHERE kind = 'receipt'"))
        db.session.commit()
    response = erase(admin, donor)
    assert response.status_code == 409
    assert "An email to this donor is being sent right now." in page_text(response)
    assert query("SELECT erased_at IS NULL FROM supporters WHERE id = :i", i=donor) == [
        (True,)]
    assert query("SELECT count(*) FROM gift_attempts WHERE email LIKE 'erased-%'") == [(0,)]
