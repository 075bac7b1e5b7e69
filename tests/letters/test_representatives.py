"""Writing to the supporter's own members of Congress, found from their ZIP code."""

from __future__ import annotations

import re

from tests.helpers import csrf_token
from tests.letters.conftest import letter_fields


def representatives_page(create_page, app, **settings) -> str:
    from campaign.extensions import db
    from campaign.letters.services import save_settings

    slug = create_page(kind="letter")
    with app.app_context():
        save_settings(slug, subject="Enforce the sanctions", body_template="Please act.",
                      targets_house=True, targets_senate=True, **settings)
        db.session.commit()
    return slug


def preview(client, slug, **fields):
    data = {"csrf_token": csrf_token(client, slug), "body": "Please act.",
            **letter_fields(**fields)}
    return client.post(f"/a/{slug}/letter/preview", data=data), data


def recipients(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", r).strip() for r in
            re.findall(r"<strong>To:</strong> ([^<]+?)\s*&middot;", html)]


def test_a_single_district_zip_writes_to_the_member_and_both_senators(app, client, congress,
                                                                     create_page):
    slug = representatives_page(create_page, app)
    response, _ = preview(client, slug, postal_code="98103")  # Seattle, WA-7 only
    assert response.status_code == 200
    assert recipients(response.get_data(as_text=True)) == [
        "Pramila Jayapal, Representative for WA-7",
        "Maria Cantwell, Senator for WA",
        "Patty Murray, Senator for WA",
    ]


def test_a_zip_spanning_districts_asks_the_supporter_to_choose(app, client, congress,
                                                              create_page, query):
    slug = representatives_page(create_page, app)
    response, data = preview(client, slug, postal_code="35005")
    html = response.get_data(as_text=True)
    assert "covers more than one congressional district" in html
    assert re.findall(r'name="district" value="([^"]+)"', html) == ["AL-6", "AL-7"]
    assert recipients(html) == []

    # Sending without choosing is refused, not guessed.
    skipped = client.post(f"/a/{slug}/letter/send", data=data)
    assert skipped.status_code == 400
    assert "choose your district" in skipped.get_data(as_text=True)
    forged = client.post(f"/a/{slug}/letter/send", data={**data, "district": "NY-12"})
    assert forged.status_code == 400

    chosen = client.post(f"/a/{slug}/letter/preview", data={**data, "district": "AL-7"})
    assert recipients(chosen.get_data(as_text=True))[0] == \
        "Terri A. Sewell, Representative for AL-7"
    sent = client.post(f"/a/{slug}/letter/send", data={**data, "district": "AL-7"})
    assert sent.status_code == 303
    assert query("SELECT count(*), min(channel) FROM letters") == [(3, "fallback")]


def test_dc_writes_to_its_delegate_only(app, client, congress, create_page):
    slug = representatives_page(create_page, app)
    response, _ = preview(client, slug, postal_code="20001")
    assert recipients(response.get_data(as_text=True)) == [
        "Eleanor Holmes Norton, Delegate for DC"]


def test_an_at_large_state_has_one_member(app, client, congress, create_page):
    slug = representatives_page(create_page, app)
    response, _ = preview(client, slug, postal_code="82001")  # Cheyenne, WY
    assert recipients(response.get_data(as_text=True)) == [
        "Harriet M. Hageman, Representative for WY (at large)",
        "Cynthia M. Lummis, Senator for WY",
        "John Barrasso, Senator for WY",
    ]


def test_unknown_and_malformed_zips_get_a_clear_message(app, client, congress, create_page,
                                                        query):
    slug = representatives_page(create_page, app)
    unknown, _ = preview(client, slug, postal_code="00000")
    assert unknown.status_code == 400
    assert "find that ZIP code" in unknown.get_data(as_text=True).replace("&#39;", "'")
    malformed, _ = preview(client, slug, postal_code="ABC")
    assert malformed.status_code == 400
    missing, _ = preview(client, slug, postal_code="")
    assert missing.status_code == 400
    assert "Please give your ZIP code" in missing.get_data(as_text=True)
    assert query("SELECT count(*) FROM letters") == [(0,)]
