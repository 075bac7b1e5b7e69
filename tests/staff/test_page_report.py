"""A page's report for staff: views, signatures and opt-ins by UTC day and by source,
UTM campaign and referring site; counts only, no supporter named."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text

from campaign.extensions import db
from campaign.pages.models import ActionPage
from campaign.staff.reports import page_report
from tests.staff.conftest import page_text

SLUG = "report-page"


@pytest.fixture
def signed_page(app, client, create_page, create_signature):
    """Five views (three from ?source=mail), three signatures over two UTC days, two
    confirmed opt-ins."""
    create_page(slug=SLUG)
    for url in [f"/a/{SLUG}?source=mail"] * 3 + [f"/a/{SLUG}"] * 2:
        assert client.get(url).status_code == 200
    with app.app_context():
        app.extensions["view_counter"].flush()
    create_signature(SLUG, email="a@example.org", source="mail", opted_in=True,
                     utm={"source": "newsletter", "medium": "email", "campaign": "nov"},
                     referrer="https://forum.example")
    create_signature(SLUG, email="b@example.org", source="mail",
                     utm={"source": "newsletter", "medium": "email", "campaign": "nov"})
    late = create_signature(SLUG, email="c@example.org", opted_in=True)
    with app.app_context():
        # 23:30 UTC on the 29th: the 30th in Seoul, the 29th in UTC.
        at = datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc)
        db.session.execute(text("UPDATE actions SET created_at = :at WHERE id = :id"),
                           {"at": at, "id": late})
        db.session.execute(text(
            "UPDATE consents SET granted_at = :at WHERE supporter_id = "
            "(SELECT supporter_id FROM actions WHERE id = :id)"), {"at": at, "id": late})
        # Both owners confirmed from their thank-you's link: only then is a tick an opt-in.
        db.session.execute(text("UPDATE consents SET confirmed_at = now()"))
        db.session.commit()
    return SLUG


def test_the_report_counts_by_day_source_campaign_and_site(signed_page, staff_client, query):
    # Read from the per-page counts: the signatures themselves keep none of it.
    assert query("SELECT DISTINCT source, utm_source, utm_campaign, referrer FROM actions") \
        == [("", "", "", "")]
    response = staff_client.get(f"/staff/pages/{SLUG}/report")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<dd id="report-views">5</dd>' in html
    assert '<dd id="report-signatures">3</dd>' in html
    assert '<dd id="report-conversion">60.0%</dd>' in html
    assert "<small>(66.7%)</small>" in html  # two of three opted in
    text_ = page_text(response)
    today = datetime.now(timezone.utc).date().isoformat()
    by_day = text_.split('id="report-by-day"')[1].split("</table>")[0]
    assert f"<td>{today}</td><td class=\"num\">5</td>" in by_day
    assert "<td>2026-11-29</td><td class=\"num\">0</td>\n      <td class=\"num\">1</td>" \
        "<td class=\"num\">1</td>" in by_day
    by_source = text_.split('id="report-by-source"')[1].split("</table>")[0]
    assert "<td>mail</td><td class=\"num\">3</td>\n      <td class=\"num\">2</td>" \
        "<td class=\"num\">66.7%</td>" in by_source
    assert "<td>(none)</td><td class=\"num\">2</td>" in by_source
    assert "<td>newsletter</td><td>email</td><td>nov</td>\n      <td class=\"num\">2</td>" \
        in text_
    assert "<td>https://forum.example</td><td class=\"num\">1</td>" in text_
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        assert email not in text_


def test_the_days_download_as_csv(signed_page, staff_client):
    response = staff_client.get(f"/staff/pages/{SLUG}/report.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="{SLUG}-by-day.csv"'
    today = datetime.now(timezone.utc).date().isoformat()
    assert response.get_data(as_text=True) == (
        "day,views,signatures,opt_ins\r\n"
        f"{today},5,2,1\r\n"
        "2026-11-29,0,1,1\r\n")


def test_days_are_utc_whatever_the_database_session_zone(signed_page, app):
    with app.app_context():
        db.session.execute(text("SET LOCAL TIME ZONE 'Asia/Seoul'"))
        page = db.session.scalars(
            db.select(ActionPage).where(ActionPage.slug == SLUG)).one()
        report = page_report(page)
        db.session.rollback()
    assert [(row.day, row.signatures) for row in report.days][-1] == (date(2026, 11, 29), 1)


def test_a_page_without_activity_says_so(staff_client, create_page):
    create_page(slug="quiet")
    response = staff_client.get("/staff/pages/quiet/report")
    assert response.status_code == 200
    assert "No views or signatures yet." in page_text(response)
    assert staff_client.get("/staff/pages/nope/report").status_code == 404
    assert staff_client.get("/staff/pages/nope/report.csv").status_code == 404
