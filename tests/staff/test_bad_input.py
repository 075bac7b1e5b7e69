"""Bad input on staff pages is refused with a message, never a 500: control characters in
the sign-in form, the search and the page editor; ids past a bigint; a page number past
any list. Nothing is written."""

from __future__ import annotations

import pytest

from campaign.common.input import MAX_ID, SINGLE_LINE_MESSAGE, TEXT_MESSAGE
from tests.staff.conftest import PASSWORD, page_text, page_token
from tests.staff.test_page_editor import CARD, counts, page_form, post, with_card


@pytest.fixture(autouse=True)
def answer_errors_as_a_server_would(app):
    """The test client re-raises a view's exception; a server answers 500. The tests
    assert on the status code, as the review did."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield
    app.config["PROPAGATE_EXCEPTIONS"] = None


@pytest.mark.parametrize("email", ["ana.staff@example.org\x00", "ana\x01@example.org",
                                   "ana.staff@exa\nmple.org"])
def test_a_control_character_in_the_sign_in_email_is_a_message(client, create_staff, email,
                                                               query):
    create_staff()
    token = page_token(client, "/staff/login")
    response = client.post("/staff/login", data={"csrf_token": token, "email": email,
                                                 "password": PASSWORD})
    assert response.status_code == 400
    assert SINGLE_LINE_MESSAGE in page_text(response)
    assert client.get("/staff/").status_code == 302
    assert query("SELECT count(*) FROM staff_events") == [(0,)]


@pytest.mark.parametrize("search", ["%00", "ana%00", "%01@example.org", "x%7F"])
def test_a_control_character_in_the_search_is_refused(staff_client, search):
    response = staff_client.get(f"/staff/supporters/?q={search}")
    assert response.status_code == 400
    assert "control characters" in page_text(response)


@pytest.mark.parametrize("path", ["/staff/pages/%00/edit", "/staff/pages/a%00b/report",
                                  "/staff/pages/%1b/letters", "/staff/pages/%00/report.csv"])
def test_a_control_character_in_a_staff_address_is_refused(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 400
    assert "control characters" in page_text(response)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("title", "Stop\x00the trade", SINGLE_LINE_MESSAGE),
    ("slug", "stop\x00", SINGLE_LINE_MESSAGE),
    ("new_campaign", "Labour\x00", SINGLE_LINE_MESSAGE),
    ("summary", "Sign\x00 to stop it.", TEXT_MESSAGE),
    ("body_markdown", "The regime\x00 keeps the wages.", TEXT_MESSAGE),
    ("body_markdown", "Bell\x07", TEXT_MESSAGE),
    ("closed_message", "Closed\x00", TEXT_MESSAGE),
    ("cards-0-claim", "Workers\x00 abroad.", TEXT_MESSAGE),
    ("cards-0-source_title", "UN\x00", SINGLE_LINE_MESSAGE),
    ("cards-0-source_url", "https://un.org/\x00", SINGLE_LINE_MESSAGE),
])
def test_a_control_character_in_the_page_editor_is_a_message(staff_client, query, field,
                                                             value, message):
    response = post(staff_client, "/staff/pages/new",
                    {**with_card(page_form(), 0), field: value})
    assert response.status_code == 400
    assert message in page_text(response)
    assert counts(query) == (0, 0, 0)


def test_line_breaks_and_tabs_are_fine_in_the_page_editors_text(staff_client, query):
    response = post(staff_client, "/staff/pages/new", with_card(page_form(
        body_markdown="The regime keeps\r\nthe wages.\r\n\r\n\tQuoted.",
        summary="Two\r\nlines."), 0, {**CARD, "claim": "A claim\r\nover two lines."}))
    assert response.status_code == 303, page_text(response)
    assert counts(query) == (1, 1, 1)


def test_a_control_character_in_the_letter_settings_is_a_message(staff_client, letter_page,
                                                                 query):
    slug, _ = letter_page()
    before = query("SELECT subject, body_template FROM letter_settings")
    url = f"/staff/pages/{slug}/letters"
    for field, value, message in (("subject", "Please\x00act", SINGLE_LINE_MESSAGE),
                                  ("body_template", "Dear\x00 {target_name}", TEXT_MESSAGE)):
        data = {"csrf_token": page_token(staff_client, url), "subject": "Please act",
                "body_template": "Please act.", "is_editable": "y", "max_length": "5000",
                "target_list_id": "None", "target_hourly_cap": "60", "over_cap": "wait",
                field: value}
        response = staff_client.post(url, data=data)
        assert response.status_code == 400
        assert message in page_text(response)
    assert query("SELECT subject, body_template FROM letter_settings") == before


@pytest.mark.parametrize("path", [
    "/staff/supporters/99999999999999999999",
    f"/staff/supporters/{MAX_ID + 1}",
    f"/staff/supporters/{MAX_ID}",
    "/staff/supporters/0",
    "/staff/batches/99999999999999999999999999.csv",
    f"/staff/batches/{MAX_ID + 1}/print",
])
def test_an_id_past_any_row_is_no_page(staff_client, path):
    assert staff_client.get(path).status_code == 404


def test_posting_to_an_id_past_any_row_is_no_page(staff_client):
    token = page_token(staff_client, "/staff/batches")
    for path in (f"/staff/batches/{MAX_ID + 1}/delivered",
                 f"/staff/supporters/{10**30}/erase"):
        response = staff_client.post(path, data={"csrf_token": token,
                                                 "confirm_email": "x@example.org"})
        assert response.status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999999", str(2**63), "2", "-5", "0",
                                  "x", "1e9"])
def test_a_page_number_past_any_list_shows_the_last_page(staff_client, create_page,
                                                         create_signature, page):
    create_signature(create_page())
    response = staff_client.get(f"/staff/supporters/?page={page}")
    assert response.status_code == 200
    assert "ji-woo@example.org" in page_text(response)


def test_an_internationalised_email_in_a_target_list_is_stored_as_it_can_be_sent(
        staff_client, query):
    from tests.staff.test_target_lists import upload

    response = upload(staff_client, "name,title,email,state,district\n"
                                    "Embassy,,desk@대사관.example.org,,\n"
                                    "Mission,,지우@example.org,,\n".encode())
    assert response.status_code == 400
    assert "before the @" in page_text(response)
    assert query("SELECT count(*) FROM targets") == [(0,)]
    response = upload(staff_client, "name,title,email,state,district\n"
                                    "Embassy,,desk@대사관.example.org,,\n".encode())
    assert response.status_code == 303
    assert query("SELECT email FROM targets") == [("desk@xn--zb0bu7i99m.example.org",)]
