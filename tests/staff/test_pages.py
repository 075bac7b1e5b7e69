"""The staff index and a letter page's report and settings."""

from __future__ import annotations

import pytest

from tests.staff.conftest import page_text, page_token

SETTINGS_COLUMNS = ("subject, body_template, is_editable, max_length, targets_house, "
                    "targets_senate, target_list_id, target_hourly_cap, over_cap")


def settings_row(query) -> list[tuple]:
    return query(f"SELECT {SETTINGS_COLUMNS} FROM letter_settings")


def test_the_index_lists_every_page_with_its_signatures(staff_client, create_page,
                                                        create_signature, letter_page):
    petition = create_page(title="Free the detainees")
    draft = create_page(title="A draft not yet public", status="draft")
    closed = create_page(title="An old petition", status="closed")
    letters, _ = letter_page()
    create_signature(petition, email="one@example.org")
    create_signature(petition, email="two@example.org")
    create_signature(letters, email="three@example.org")

    html = page_text(staff_client.get("/staff/"))
    for title in ("Free the detainees", "A draft not yet public", "An old petition"):
        assert title in html
    rows = {slug: html.split(f"<small>{slug}</small>")[1].split("</tr>")[0]
            for slug in (petition, draft, closed, letters)}
    assert '<td class="num">2</td>' in rows[petition]
    assert '<td class="num">0</td>' in rows[draft]
    assert '<td class="num">1</td>' in rows[letters]
    assert "draft" in rows[draft] and "closed" in rows[closed]
    assert f'href="/staff/pages/{letters}/letters"' in html
    assert f"/staff/pages/{petition}/letters" not in html


def test_the_letter_report_counts_letters_and_personalisation(staff_client, letter_page,
                                                              write_letters):
    slug, _ = letter_page()  # two targets: every supporter writes two letters
    write_letters(slug, count=3)
    write_letters(slug, count=1, body="In my own words: please act, {target_title}.")
    response = staff_client.get(f"/staff/pages/{slug}/letters")
    assert response.status_code == 200
    html = page_text(response)
    assert '<dd id="report-letters">8</dd>' in html
    assert '<dd id="report-submissions">4</dd>' in html
    assert '<dd id="report-personalised">25%' in html
    assert "(1 of 4)" in html
    assert '<dd id="report-distinct">2</dd>' in html
    assert '<dd id="report-repeated">1</dd>' in html
    assert '<tr><td>queued</td><td>email</td><td class="num">8</td></tr>' in html
    # The form shows the settings as they are.
    assert 'value="Stop the forced-labour trade"' in html
    assert "Forced labour pays for {target_title}&#39;s problem" in response.get_data(
        as_text=True)


def good_settings(token: str, list_id: int, **changes: str) -> dict:
    data = {"csrf_token": token, "subject": "Enforce the sanctions now",
            "body_template": "As a constituent, {first_name} asks {target_title} to act.",
            "is_editable": "y", "max_length": "3000", "targets_senate": "y",
            "target_list_id": str(list_id), "target_hourly_cap": "20", "over_cap": "digest"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def list_id_of(query) -> int:
    return query("SELECT target_list_id FROM letter_settings")[0][0]


def test_saving_the_settings_changes_the_letter(staff_client, letter_page, query):
    slug, _ = letter_page()
    list_id = list_id_of(query)
    url = f"/staff/pages/{slug}/letters"
    response = staff_client.post(url, data=good_settings(page_token(staff_client, url), list_id))
    assert response.status_code == 303
    assert response.headers["Location"] == url
    assert query("SELECT kind, subject FROM staff_events WHERE kind <> 'account.signed_in'"
                 ) == [("letter.settings_saved", slug)]
    assert settings_row(query) == [(
        "Enforce the sanctions now", "As a constituent, {first_name} asks {target_title} to act.",
        True, 3000, False, True, list_id, 20, "digest")]
    assert "Letter settings saved." in page_text(staff_client.get(url))


def test_unticked_boxes_and_no_list_are_saved_as_such(staff_client, letter_page, query):
    slug, _ = letter_page()
    url = f"/staff/pages/{slug}/letters"
    data = good_settings(page_token(staff_client, url), 0, is_editable=None,
                         targets_house="y", targets_senate=None, target_list_id="None")
    assert staff_client.post(url, data=data).status_code == 303
    [row] = settings_row(query)
    assert row[2:7] == (False, 3000, True, False, None)


def test_a_letter_page_without_settings_gets_them_from_the_form(staff_client, create_page,
                                                                query):
    slug = create_page(kind="letter", status="draft")
    url = f"/staff/pages/{slug}/letters"
    html = page_text(staff_client.get(url))
    assert "This page has no letter yet" in html
    assert "No letters yet." in html
    data = good_settings(page_token(staff_client, url), 0, target_list_id="None",
                         targets_house="y")
    assert staff_client.post(url, data=data).status_code == 303
    assert settings_row(query)[0][0] == "Enforce the sanctions now"


@pytest.mark.parametrize("changes,message", [
    ({"body_template": "Dear office, {nickname} asks you to act."},
     "Your letter has placeholders we don't recognise: {nickname}"),
    ({"subject": "Act now\r\nBcc: everyone@example.org"},
     "Please use a single line without special characters."),
    ({"subject": "x" * 201}, "Field cannot be longer than 200 characters."),
    ({"max_length": "50"}, "The maximum length must be between 100 and 20,000 characters."),
    ({"max_length": "20001"}, "The maximum length must be between 100 and 20,000 characters."),
    ({"max_length": "lots"}, "Not a valid integer value."),
    ({"max_length": "100", "body_template": "Please act. " * 10},
     "Your letter is 119 characters long; please keep it under 100."),
    ({"target_hourly_cap": "0"}, "The cap must be between 1 and 100,000."),
    ({"target_hourly_cap": "99999999999999"}, "The cap must be between 1 and 100,000."),
    ({"over_cap": "later"}, "Not a valid choice."),
    ({"target_list_id": "999999"}, "Not a valid choice."),
    ({"target_list_id": "abc"}, "Invalid Choice: could not coerce."),
    ({"targets_senate": None, "target_list_id": "None"},
     "Choose who the letters go to: representatives, a list, or both."),
    ({"body_template": ""}, "The letter needs some text."),
])
def test_bad_settings_are_refused_and_nothing_changes(staff_client, letter_page, query,
                                                     changes, message):
    slug, _ = letter_page()
    before = settings_row(query)
    url = f"/staff/pages/{slug}/letters"
    data = good_settings(page_token(staff_client, url), list_id_of(query), **changes)
    response = staff_client.post(url, data=data)
    assert response.status_code == 400
    assert message in page_text(response)
    assert settings_row(query) == before


def test_settings_need_the_csrf_token(staff_client, letter_page, query):
    slug, _ = letter_page()
    before = settings_row(query)
    response = staff_client.post(f"/staff/pages/{slug}/letters",
                                 data=good_settings("", list_id_of(query)))
    assert response.status_code == 400
    assert settings_row(query) == before


def test_only_letter_pages_have_a_letters_view(staff_client, create_page):
    petition = create_page()
    assert staff_client.get(f"/staff/pages/{petition}/letters").status_code == 404
    assert staff_client.get("/staff/pages/no-such-page/letters").status_code == 404


def test_a_long_korean_letter_fits_the_settings_form(staff_client, letter_page, query):
    slug, _ = letter_page()
    url = f"/staff/pages/{slug}/letters"
    body = ("{first_name}님, 강제노동 제재를 집행해 주십시오. " * 1000)[:18_000]  # ~85 KB sent
    data = good_settings(page_token(staff_client, url), list_id_of(query), body_template=body,
                         max_length="20000")
    response = staff_client.post(url, data=data)
    assert response.status_code == 303, page_text(response)[:300]
    assert query("SELECT body_template FROM letter_settings") == [(body,)]
