# ruff: noqa: F401, F811 - pytest fixtures imported from tests.donations.staff_helpers
"""The donations list: filters, totals per currency and the CSV, checked against SQL over
a few thousand ledger rows; the CSV cannot smuggle a formula into a spreadsheet; bad
filters get a message; the monthly gifts by state; refused attempts counted."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from campaign.donations.money import format_money
from tests.donations.staff_helpers import (  # noqa: F401 - fixtures
    admin,
    create_staff,
    donation_page,
    editor,
    make_donation,
    make_monthly_gift,
)
from tests.staff.conftest import page_text

ROWS = 3000
# The SQL that stands for each filter below, over the rows bulk_donations inserts.
FILTERS = [
    ({}, "TRUE"),
    ({"frequency": "monthly"}, "frequency = 'monthly'"),
    ({"frequency": "one_time", "status": "refunded"},
     "frequency = 'one_time' AND status = 'refunded'"),
    ({"status": "partially_refunded"}, "status = 'partially_refunded'"),
    ({"status": "disputed"}, "dispute_status <> ''"),
    ({"date_from": "2026-10-10", "date_to": "2026-10-20"},
     "charged_at >= '2026-10-10T00:00:00Z' AND charged_at < '2026-10-21T00:00:00Z'"),
    ({"date_from": "2026-11-15"}, "charged_at >= '2026-11-15T00:00:00Z'"),
    ({"status": "succeeded", "date_to": "2026-10-05"},
     "status = 'succeeded' AND charged_at < '2026-10-06T00:00:00Z'"),
]


@pytest.fixture
def pages(donation_page) -> dict[str, int]:
    return {"a": donation_page(title="Winter appeal")[1],
            "b": donation_page(title="Legal fund")[1]}


@pytest.fixture
def bulk_donations(app, pages, query) -> int:
    """ROWS donations over 60 days and two pages, in dollars and won, one-time and monthly,
    some refunded in part or in full, some disputed; inserted in one statement."""
    from sqlalchemy import text

    from campaign.extensions import db

    with app.app_context():
        db.session.execute(text("""
            INSERT INTO donations (stripe_payment_intent_id, action_page_id, frequency,
                amount, fee_covered, currency, amount_refunded, status, dispute_status,
                dispute_amount, dispute_event_created, source, utm_source, utm_medium,
                utm_campaign, charged_at, created_at)
            SELECT 'pi_bulk_' || i, CASE WHEN i % 3 = 0 THEN :b ELSE :a END,
                CASE WHEN i % 4 = 0 THEN 'monthly' ELSE 'one_time' END,
                CASE WHEN i % 5 = 0 THEN 5000 + (i % 7) * 1000 ELSE 1000 + (i % 7) * 250 END,
                0, CASE WHEN i % 5 = 0 THEN 'krw' ELSE 'usd' END,
                CASE WHEN i % 10 = 0 THEN CASE WHEN i % 5 = 0 THEN 5000 + (i % 7) * 1000
                                               ELSE 1000 + (i % 7) * 250 END
                     WHEN i % 10 = 1 THEN 100 ELSE 0 END,
                CASE WHEN i % 10 = 0 THEN 'refunded' WHEN i % 10 = 1 THEN 'partially_refunded'
                     ELSE 'succeeded' END,
                CASE WHEN i % 50 = 7 THEN 'needs_response' ELSE '' END,
                0, 0, CASE WHEN i % 2 = 0 THEN 'mail' ELSE '' END, '', '', '',
                timestamptz '2026-10-01T00:00:00Z' + (i % 60) * interval '1 day'
                    + (i % 24) * interval '1 hour' + (i % 60) * interval '1 minute',
                now()
            FROM generate_series(1, :rows) AS i"""),
            {"a": pages["a"], "b": pages["b"], "rows": ROWS})
        db.session.commit()
    return ROWS


def expected_totals(query, where: str) -> dict[str, tuple[int, int, int]]:
    return {currency: (count, amount, refunded) for currency, count, amount, refunded in query(
        f"SELECT currency, count(*), sum(amount), sum(amount_refunded) FROM donations "
        f"WHERE {where} GROUP BY currency")}


def shown_totals(html: str) -> dict[str, tuple[str, ...]]:
    rows = re.findall(r'<tr id="total-(\w+)">(.*?)</tr>', html, re.S)
    return {currency: tuple(re.findall(r'<td class="num">([^<]*)</td>', cells))
            for currency, cells in rows}


@pytest.mark.parametrize("args, where", FILTERS)
def test_totals_per_currency_and_the_count_match_sql(admin, bulk_donations, query, args,
                                                     where):
    response = admin.get("/staff/donations", query_string=args)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    expected = expected_totals(query, where)
    assert expected  # every filter here matches some rows
    assert shown_totals(html) == {
        currency: (f"{count:,}", format_money(amount, currency),
                   format_money(refunded, currency), format_money(amount - refunded, currency))
        for currency, (count, amount, refunded) in expected.items()}
    total = sum(count for count, _, _ in expected.values())
    assert f"These {total:,} donations as CSV" in page_text(response)


@pytest.mark.parametrize("args, where", FILTERS[:6])
def test_the_csv_holds_the_same_donations_as_the_filter(admin, bulk_donations, query, args,
                                                        where):
    response = admin.get("/staff/donations.csv", query_string=args)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    ids = query(f"SELECT id FROM donations WHERE {where} ORDER BY charged_at, id")
    assert [int(row["donation_id"]) for row in rows] == [i for (i,) in ids]
    for currency, (count, amount, refunded) in expected_totals(query, where).items():
        mine = [row for row in rows if row["currency"] == currency.upper()]
        assert len(mine) == count
        scale = 1 if currency == "krw" else 100
        assert sum(Decimal(row["amount"]) for row in mine) * scale == amount
        assert sum(Decimal(row["net"]) for row in mine) * scale == amount - refunded


def test_the_list_pages_through_the_filtered_rows(admin, bulk_donations, query):
    first = admin.get("/staff/donations", query_string={"frequency": "monthly"})
    second = admin.get("/staff/donations", query_string={"frequency": "monthly", "p": "2"})
    ids = [[int(i) for i in re.findall(r'<tr id="donation-(\d+)">', r.get_data(as_text=True))]
           for r in (first, second)]
    expected = [i for (i,) in query(
        "SELECT id FROM donations WHERE frequency = 'monthly' "
        "ORDER BY charged_at DESC, id DESC LIMIT 100")]
    assert ids[0] + ids[1] == expected
    pages = -(-query("SELECT count(*) FROM donations WHERE frequency = 'monthly'")[0][0] // 50)
    assert f"Page 2 of {pages}" in page_text(second)
    # The pager keeps the filter.
    assert "frequency=monthly" in re.search(r'<nav class="pager".*?</nav>',
                                            second.get_data(as_text=True), re.S).group(0)


def test_a_page_filter_takes_that_pages_donations_only(admin, bulk_donations, pages, query):
    response = admin.get("/staff/donations", query_string={"page": str(pages["b"])})
    assert shown_totals(response.get_data(as_text=True))["usd"][0] == "{:,}".format(
        query("SELECT count(*) FROM donations WHERE action_page_id = :p AND currency = 'usd'",
              p=pages["b"])[0][0])
    rows = list(csv.DictReader(io.StringIO(admin.get(
        "/staff/donations.csv", query_string={"page": str(pages["b"])}).get_data(
            as_text=True))))
    assert {row["page"] for row in rows} == set(
        query("SELECT slug FROM action_pages WHERE id = :p", p=pages["b"])[0])


def test_the_csv_neutralises_formulas_and_keeps_the_donors_details(
        app, admin, pages, make_donation, create_signature, create_page, query):
    create_signature(create_page(), email="eve@example.org", first_name="=cmd|'/C calc'!A0",
                     last_name="@SUM(1)")
    [(supporter_id,)] = query("SELECT id FROM supporters")
    donation_id = make_donation(action_page_id=pages["a"], supporter_id=supporter_id,
                                source="+1-555", utm_source="-2+3", utm_medium="@here",
                                utm_campaign='=HYPERLINK("https://evil.example")')
    [row] = csv.DictReader(io.StringIO(admin.get("/staff/donations.csv").get_data(
        as_text=True)))
    assert int(row["donation_id"]) == donation_id
    assert row["source"] == "'+1-555"
    assert row["utm_source"] == "'-2+3"
    assert row["utm_medium"] == "'@here"
    assert row["utm_campaign"] == "'=HYPERLINK(\"https://evil.example\")"
    assert row["donor_name"] == "'=cmd|'/C calc'!A0 @SUM(1)"
    assert row["donor_email"] == "eve@example.org"
    assert (row["amount"], row["currency"], row["net"]) == ("25", "USD", "25")


@pytest.mark.parametrize("args, message", [
    ({"date_from": "2026-13-01"}, "Not a valid date value."),
    ({"date_from": "2026-11-10", "date_to": "2026-11-01"},
     "The end of the range is before its start."),
    ({"status": "lost"}, "Not a valid choice."),
    ({"frequency": "weekly"}, "Not a valid choice."),
    ({"page": "999999"}, "Not a valid choice."),
    ({"page": "ten"}, "Not a valid choice."),
    ({"page": str(2**40)}, "Not a valid choice."),
    ({"p": "0"}, "Number must be between 1 and 1000000."),
    ({"p": "x"}, "Not a valid integer value."),
])
def test_a_bad_filter_is_refused_with_a_message(admin, pages, args, message):
    response = admin.get("/staff/donations", query_string=args)
    assert response.status_code == 400
    assert message in page_text(response)
    response = admin.get("/staff/donations.csv", query_string=args)
    assert response.status_code == 400
    assert message in page_text(response)


def test_refused_attempts_are_counted_for_staff(app, admin, pages, query):
    today = datetime.now(timezone.utc).date()
    from campaign.donations.models import GiftBlockCount
    from campaign.extensions import db

    with app.app_context():
        db.session.add_all([
            GiftBlockCount(action_page_id=pages["a"], day=today, reason="challenge",
                           blocked=17),
            GiftBlockCount(action_page_id=pages["b"], day=today - timedelta(days=1),
                           reason="rate", blocked=4),
            GiftBlockCount(action_page_id=pages["a"], day=today - timedelta(days=90),
                           reason="honeypot", blocked=9)])
        db.session.commit()
    assert block_rows(admin.get("/staff/donations")) == [
        (today.isoformat(), "Winter appeal", "challenge", "17"),
        ((today - timedelta(days=1)).isoformat(), "Legal fund", "rate", "4")]
    old = admin.get("/staff/donations", query_string={
        "date_from": (today - timedelta(days=100)).isoformat(), "page": str(pages["a"])})
    assert block_rows(old) == [(today.isoformat(), "Winter appeal", "challenge", "17"),
                               ((today - timedelta(days=90)).isoformat(), "Winter appeal",
                                "honeypot", "9")]


def block_rows(response) -> list[tuple[str, ...]]:
    return re.findall(r"<tr><td>([\d-]+)</td><td>([^<]*)</td><td>(\w+)</td>"
                      r'<td class="num">(\d+)</td></tr>', response.get_data(as_text=True))


def test_monthly_gifts_show_their_state_and_filter_by_it(
        admin, editor, pages, make_monthly_gift, make_donation):
    active = make_monthly_gift(action_page_id=pages["a"], amount=2000,
                               next_charge_at=datetime(2026, 12, 20, tzinfo=timezone.utc))
    past_due = make_monthly_gift(action_page_id=pages["a"], status="past_due", failures=2,
                                 amount=50000, currency="krw")
    ended = make_monthly_gift(action_page_id=pages["b"], status="canceled", failures=3,
                              ended_reason="3 failed payments",
                              ended_at=datetime(2026, 11, 2, tzinfo=timezone.utc))
    make_monthly_gift(status="incomplete")
    make_donation(monthly_gift_id=active, frequency="monthly", amount=2000)
    make_donation(monthly_gift_id=active, frequency="monthly", amount=2000)

    everything = admin.get("/staff/monthly-gifts")
    assert everything.status_code == 200
    html = everything.get_data(as_text=True)
    assert len(re.findall(r'<tr id="monthly-\d+">', html)) == 4
    assert dict(re.findall(r'<span id="count-(\w+)">(\d+)</span>', html)) == {
        "active": "1", "past_due": "1", "canceled": "1", "incomplete": "1"}
    row = re.search(rf'<tr id="monthly-{active}">(.*?)</tr>', html, re.S).group(1)
    assert "$20" in row and "2026-12-20" in row and '<td class="num">2</td>' in row
    assert "₩50,000" in re.search(rf'<tr id="monthly-{past_due}">(.*?)</tr>', html,
                                  re.S).group(1)

    only_ended = editor.get("/staff/monthly-gifts", query_string={"state": "canceled"})
    assert re.findall(r'<tr id="monthly-(\d+)">', only_ended.get_data(as_text=True)) == [
        str(ended)]
    assert "2026-11-02: 3 failed payments" in page_text(only_ended)
    refused = admin.get("/staff/monthly-gifts", query_string={"state": "paused"})
    assert refused.status_code == 400 and "Not a valid choice." in page_text(refused)
    for gift in ("abc", "0", str(2**40)):
        refused = admin.get("/staff/monthly-gifts", query_string={"gift": gift})
        assert refused.status_code == 400
        assert "The monthly gift's number:" in page_text(refused)


def test_staff_navigation_links_to_the_money_pages(editor):
    html = editor.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/donations"' in html and 'href="/staff/monthly-gifts"' in html


def test_days_are_utc_days(admin, pages, make_donation, query):
    # 23:30 UTC on the 9th is the 10th in Seoul: it belongs to the 9th here.
    late = make_donation(action_page_id=pages["a"],
                         charged_at=datetime(2026, 10, 9, 23, 30, tzinfo=timezone.utc))
    early = make_donation(action_page_id=pages["a"],
                          charged_at=datetime(2026, 10, 10, 0, 0, tzinfo=timezone.utc))
    shown = admin.get("/staff/donations", query_string={"date_from": "2026-10-10",
                                                        "date_to": str(date(2026, 10, 10))})
    ids = re.findall(r'<tr id="donation-(\d+)">', shown.get_data(as_text=True))
    assert ids == [str(early)] and str(late) not in ids


def test_the_query_string_cannot_steer_the_links_it_keeps(admin, pages):
    html = admin.get("/staff/donations", query_string={
        "_external": "1", "_scheme": "javascript", "_anchor": "x", "status": "refunded"}
    ).get_data(as_text=True)
    link = re.search(r'<a id="donations-csv" href="([^"]+)"', html).group(1)
    assert link == "/staff/donations.csv?status=refunded"
