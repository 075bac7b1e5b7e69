"""Staff set a donation page's giving: amounts typed in major units and stored in minor
units, every contradiction refused with a message (400, nothing stored), and a donation
page goes live only with its settings and with giving configured."""

from __future__ import annotations

import pytest

from campaign.pages.kinds import go_live_refusal
from campaign.pages.models import ActionPage
from tests.staff.conftest import (  # noqa: F401 - fixtures
    create_staff,
    forget_failed_sign_ins,
    log_in,
    page_text,
    page_token,
    staff_client,
)

GOOD = {"currency": "usd", "suggested": "10, 25, 50, 100", "default_amount": "25",
        "minimum_amount": "1", "maximum_amount": "10,000", "offer_one_time": "y",
        "offer_monthly": "y", "default_frequency": "one_time", "fee_cover_percent": "3",
        "tribute_enabled": "y", "goal_amount": "50000"}


def post_settings(client, slug: str, **fields: str):
    url = f"/staff/pages/{slug}/giving"
    data = {**GOOD, **fields}
    return client.post(url, data={"csrf_token": page_token(client, url),
                                  **{k: v for k, v in data.items() if v is not None}})


def stored(query):
    return query("SELECT currency, suggested_amounts, default_amount, minimum_amount, "
                 "maximum_amount, offer_one_time, offer_monthly, default_frequency, "
                 "fee_cover_basis_points, tribute_enabled, goal_amount FROM donation_settings")


def test_staff_save_giving_settings_in_major_units(staff_client, create_page, query):  # noqa: F811
    slug = create_page(kind="donation", status="draft")
    editor = staff_client.get(f"/staff/pages/{slug}/edit").get_data(as_text=True)
    assert f'href="/staff/pages/{slug}/giving">Giving settings</a>' in editor
    form = page_text(staff_client.get(f"/staff/pages/{slug}/giving"))
    assert "it can't go live until you save them" in form
    response = post_settings(staff_client, slug)
    assert response.status_code == 303
    assert stored(query) == [("usd", "1000,2500,5000,10000", 2500, 100, 1_000_000, True, True,
                              "one_time", 300, True, 5_000_000)]
    assert query("SELECT kind, subject FROM staff_events WHERE kind LIKE 'giving%'") == [
        ("giving.settings_saved", slug)]
    again = page_text(staff_client.get(f"/staff/pages/{slug}/giving"))
    assert 'value="10, 25, 50, 100"' in again and 'value="10000"' in again

    # Changed: won, no minor unit, monthly only.
    assert post_settings(staff_client, slug, currency="krw", suggested="5000, 10000",
                         default_amount="10000", minimum_amount="1000",
                         maximum_amount="1000000", offer_one_time=None,
                         default_frequency="monthly", fee_cover_percent="2.5",
                         goal_amount="0").status_code == 303
    assert stored(query) == [("krw", "5000,10000", 10000, 1000, 1_000_000, False, True,
                              "monthly", 250, True, 0)]


@pytest.mark.parametrize("fields,message", [
    ({"suggested": "10, lots"}, "\u201clots\u201d: Enter the amount as a number"),
    ({"suggested": ""}, "List at least one suggested amount."),
    ({"suggested": "10, 10"}, "A suggested amount is listed twice."),
    ({"suggested": "10, 20000"}, "Every suggested amount must be between the minimum"),
    ({"suggested": ",".join(str(n) for n in range(1, 10))}, "Suggest at most 8 amounts."),
    ({"default_amount": "20000"}, "The default amount must be between the minimum"),
    ({"default_amount": "25.505"}, "Enter at most two digits after the point."),
    ({"minimum_amount": "0"}, "Enter an amount above zero."),
    ({"minimum_amount": "-1"}, "Enter the amount as a number"),
    ({"maximum_amount": "0.5"}, "The maximum must not be below the minimum."),
    ({"maximum_amount": ""}, "Give a maximum amount."),
    ({"offer_one_time": None, "offer_monthly": None}, "Offer one-time gifts, monthly gifts"),
    ({"offer_monthly": None, "default_frequency": "monthly"},
     "The default frequency must be one the page offers."),
    ({"default_frequency": "weekly"}, "Not a valid choice."),
    ({"fee_cover_percent": "25"}, "The share must be 0 to 20 %."),
    ({"fee_cover_percent": "three"}, "Give the share as a number, such as 3."),
    ({"fee_cover_percent": "2.955"}, "Use at most two decimals"),
    ({"fee_cover_percent": "NaN"}, "The share must be 0 to 20 %."),
    ({"goal_amount": "-5"}, "Enter the amount as a number"),
    ({"goal_amount": "99999999999"}, "That amount is too large."),
    ({"currency": "xyz"}, "Not a valid choice."),
    ({"currency": "krw", "suggested": "10.50"}, "This currency has no smaller unit than 1."),
    ({"suggested": "10\x00"}, "Please use a single line"),
])
def test_bad_settings_say_what_is_wrong_and_store_nothing(staff_client, create_page, query,  # noqa: F811
                                                          fields, message):
    slug = create_page(kind="donation", status="draft")
    response = post_settings(staff_client, slug, **fields)
    assert response.status_code == 400
    assert message in page_text(response)
    assert stored(query) == []


def test_only_donation_pages_have_giving_settings(staff_client, create_page):  # noqa: F811
    petition = create_page()
    assert staff_client.get(f"/staff/pages/{petition}/giving").status_code == 404
    assert staff_client.get("/staff/pages/no-such-page/giving").status_code == 404


def test_a_donation_page_goes_live_only_with_settings_and_giving_on(
        app, staff_client, create_page, monkeypatch):  # noqa: F811
    slug = create_page(kind="donation", status="draft")
    with app.app_context():
        from campaign.extensions import db

        page = db.session.query(ActionPage).filter_by(slug=slug).one()
        assert go_live_refusal(page, "donation").startswith("Set the page's giving settings")
    assert post_settings(staff_client, slug).status_code == 303
    with app.app_context():
        page = db.session.query(ActionPage).filter_by(slug=slug).one()
        assert go_live_refusal(page, "donation") is None
        monkeypatch.setitem(app.extensions, "stripe_gateway", None)  # no STRIPE_SECRET_KEY
        assert "Online giving is off on this site" in go_live_refusal(page, "donation")
