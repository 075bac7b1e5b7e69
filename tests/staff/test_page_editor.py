"""Staff build pages: create one as a draft, preview it, make it live, edit its argument
and evidence cards. Bad input is refused with a message and writes nothing."""

from __future__ import annotations

import pytest

from tests.staff.conftest import page_text, page_token

CARD = {"claim": "Workers sent abroad earn money the state keeps.",
        "source_title": "UN Panel of Experts report",
        "source_url": "https://www.un.org/securitycouncil/sanctions/1718/panel_experts/reports"}


def page_form(**fields) -> dict:
    """A page form as a browser posts it: every field, three card rows."""
    form = {"campaign_id": "None", "new_campaign": "Labour exports", "title": "Stop the trade",
            "slug": "", "kind": "petition", "status": "draft", "summary": "Sign to stop it.",
            "body_markdown": "The regime **keeps** the wages.", "goal": "500",
            "closed_message": "Closed, thank you."}
    for i in range(3):
        for name in ("claim", "source_title", "source_url"):
            form[f"cards-{i}-{name}"] = ""
    form.update(fields)
    return form


def with_card(form: dict, row: int, card: dict = CARD) -> dict:
    return {**form, **{f"cards-{row}-{name}": value for name, value in card.items()}}


def post(client, url: str, form: dict):
    return client.post(url, data={"csrf_token": page_token(client, url), **form})


def counts(query) -> tuple:
    return (query("SELECT count(*) FROM action_pages")[0][0],
            query("SELECT count(*) FROM evidence_cards")[0][0],
            query("SELECT count(*) FROM campaigns")[0][0])


def test_a_new_page_is_a_draft_until_staff_make_it_live(staff_client, client, query, app):
    response = post(staff_client, "/staff/pages/new", with_card(page_form(), 0))
    assert response.status_code == 303, page_text(response)
    assert response.headers["Location"] == "/staff/pages/stop-the-trade/edit"
    assert query("SELECT slug, status, body_html FROM action_pages") == [
        ("stop-the-trade", "draft", "<p>The regime <strong>keeps</strong> the wages.</p>\n")]
    assert query("SELECT name FROM campaigns") == [("Labour exports",)]
    assert client.get("/a/stop-the-trade").status_code == 404

    preview = staff_client.get("/staff/pages/stop-the-trade/preview")
    assert preview.status_code == 200
    text = page_text(preview)
    assert "of a draft page: supporters cannot see it yet" in text
    assert "Stop the trade" in text and CARD["claim"] in text

    [(campaign_id,)] = query("SELECT id FROM campaigns")
    live = post(staff_client, "/staff/pages/stop-the-trade/edit",
                with_card(page_form(status="live", new_campaign="",
                                    campaign_id=str(campaign_id)), 0))
    assert live.status_code == 303, page_text(live)
    app.extensions["page_caches"].clear()
    public = staff_client.get("/a/stop-the-trade")
    assert public.status_code == 200
    assert CARD["source_title"] in page_text(public)
    assert "preview-banner" not in page_text(public)
    assert counts(query) == (1, 1, 1)


def test_the_edit_form_shows_the_page_and_room_for_more_cards(staff_client, create_page):
    create_page(slug="edit-me", cards=[("A claim", "A source", "https://example.org/a")])
    form = staff_client.get("/staff/pages/edit-me/edit")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'name="cards-0-claim"' in html and "A claim" in html
    assert 'name="cards-0-order" type="number" value="1"' in html
    assert 'name="cards-3-claim"' in html  # three blank rows after the card
    assert 'name="cards-4-claim"' not in html
    assert 'href="/staff/pages/edit-me/edit"' in staff_client.get("/staff/").get_data(
        as_text=True)


def test_cards_are_replaced_in_the_order_given_and_removed_on_request(staff_client, query,
                                                                      create_page):
    create_page(slug="cards-page", cards=[("First", "Source 1", "https://example.org/1"),
                                     ("Second", "Source 2", "https://example.org/2")])
    [(campaign_id,)] = query("SELECT campaign_id FROM action_pages")
    form = page_form(title="Cards page", slug="cards-page", new_campaign="",
                     campaign_id=str(campaign_id))
    form = with_card(form, 0, {"claim": "First", "source_title": "Source 1",
                               "source_url": "https://example.org/1"})
    form["cards-0-remove"] = "y"
    form = with_card(form, 1, {"claim": "Second", "source_title": "Source 2",
                               "source_url": "https://example.org/2"})
    form = with_card(form, 2, {"claim": "Third", "source_title": "Source 3",
                               "source_url": "http://example.org/3"})
    assert post(staff_client, "/staff/pages/cards-page/edit", form).status_code == 303
    assert query("SELECT position, claim FROM evidence_cards ORDER BY position") == [
        (0, "Second"), (1, "Third")]

    # Order numbers rearrange them; a card without one comes after those with one.
    form = {**form, "cards-0-remove": "", "cards-0-order": "", "cards-1-order": "2",
            "cards-2-order": "1"}
    assert post(staff_client, "/staff/pages/cards-page/edit", form).status_code == 303
    assert query("SELECT position, claim FROM evidence_cards ORDER BY position") == [
        (0, "Third"), (1, "Second"), (2, "First")]


def test_markdown_is_sanitised(staff_client, query):
    body = ('<script>alert(1)</script>\n\n[click](javascript:alert(2)) '
            '<img src="https://tracker.example/x.gif"> [ok](https://example.org)')
    assert post(staff_client, "/staff/pages/new", page_form(body_markdown=body)).status_code == 303
    [(html,)] = query("SELECT body_html FROM action_pages")
    # Raw HTML shows as text, a javascript: link is no link, and no image loads.
    assert "<script" not in html and "href=\"javascript" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html


@pytest.mark.parametrize("fields,message", [
    ({"title": ""}, "The page needs a title."),
    ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
    ({"title": "Two\r\nlines"}, "Please use a single line without special characters."),
    ({"slug": "Not A Slug!"}, "The address may hold only lower-case letters"),
    ({"slug": "-leading"}, "The address may hold only lower-case letters"),
    ({"goal": "-1"}, "The goal must be 0 to 100,000,000."),
    ({"goal": "lots"}, "Not a valid integer value."),
    ({"kind": "raffle"}, "Not a valid choice."),
    ({"status": "deleted"}, "Not a valid choice."),
    ({"new_campaign": ""}, "Please choose a campaign or name a new one."),
    ({"campaign_id": "999999", "new_campaign": ""}, "Not a valid choice."),
    ({"summary": "s" * 501}, "Field cannot be longer than 500 characters."),
    ({"kind": "donation", "status": "live"}, "Set the page's giving settings"),
    ({"kind": "letter", "status": "live"}, "Set the letter's text and targets"),
    ({"cards-0-order": "0"}, "The order is a number from 1 to 999."),
    ({"cards-0-claim": "A claim without a source"},
     "this one has no source and no source link"),
    ({"cards-0-claim": "c", "cards-0-source_title": "t",
      "cards-0-source_url": "javascript:alert(1)"}, "A source link must be a web address"),
    ({"cards-0-claim": "c", "cards-0-source_title": "t",
      "cards-0-source_url": "https://example.org/\nx"},
     "Please use a single line without special characters."),
])
def test_bad_input_says_what_is_wrong_and_writes_nothing(staff_client, query, fields,
                                                         message):
    before = counts(query)
    response = post(staff_client, "/staff/pages/new", page_form(**fields))
    assert response.status_code == 400
    assert message in page_text(response)
    assert counts(query) == before


def test_a_taken_address_is_refused(staff_client, create_page, query):
    create_page(slug="taken")
    response = post(staff_client, "/staff/pages/new", page_form(slug="taken"))
    assert response.status_code == 400
    assert "Another page already has the address /a/taken." in page_text(response)
    assert counts(query)[0] == 1


def test_a_live_page_keeps_its_address_and_kind(staff_client, create_page, query):
    create_page(slug="live-page")  # live, a petition
    [(campaign_id,)] = query("SELECT campaign_id FROM action_pages")
    base = page_form(title="Live page", new_campaign="", campaign_id=str(campaign_id),
                     status="live")
    moved = post(staff_client, "/staff/pages/live-page/edit", {**base, "slug": "elsewhere"})
    assert moved.status_code == 400
    assert "The address of a live or closed page cannot change" in page_text(moved)
    rekinded = post(staff_client, "/staff/pages/live-page/edit",
                    {**base, "slug": "live-page", "kind": "letter"})
    assert rekinded.status_code == 400
    assert "The kind of a live or closed page cannot change." in page_text(rekinded)
    # A blank address keeps the page's own.
    closed = post(staff_client, "/staff/pages/live-page/edit",
                  {**base, "slug": "", "status": "closed"})
    assert closed.status_code == 303
    assert query("SELECT slug, kind, status FROM action_pages") == [
        ("live-page", "petition", "closed")]


def test_the_page_form_needs_the_csrf_token(staff_client, query):
    response = staff_client.post("/staff/pages/new", data=page_form())
    assert response.status_code == 400
    assert counts(query)[0] == 0


def test_unknown_pages_are_not_found(staff_client):
    assert staff_client.get("/staff/pages/nope/edit").status_code == 404
    assert staff_client.get("/staff/pages/nope/preview").status_code == 404


def test_a_title_without_latin_letters_needs_an_address(staff_client, query):
    response = post(staff_client, "/staff/pages/new", page_form(title="강제북송을 멈춰라"))
    assert response.status_code == 400
    assert "Please give the page an address" in page_text(response)
    assert counts(query)[0] == 0
    named = post(staff_client, "/staff/pages/new",
                 page_form(title="강제북송을 멈춰라", slug="stop-forced-returns-ko"))
    assert named.status_code == 303
    assert query("SELECT slug, title FROM action_pages") == [
        ("stop-forced-returns-ko", "강제북송을 멈춰라")]


def test_a_letter_page_goes_live_once_its_letter_is_set(app, staff_client, query):
    assert post(staff_client, "/staff/pages/new",
                page_form(title="Write to Congress", kind="letter")).status_code == 303
    [(campaign_id,)] = query("SELECT id FROM campaigns")
    live = page_form(title="Write to Congress", kind="letter", status="live",
                     new_campaign="", campaign_id=str(campaign_id))
    refused = post(staff_client, "/staff/pages/write-to-congress/edit", live)
    assert refused.status_code == 400
    assert query("SELECT status FROM action_pages") == [("draft",)]

    from campaign.extensions import db
    from campaign.letters.services import save_settings
    with app.app_context():
        save_settings("write-to-congress", subject="Enforce the sanctions",
                      body_template="Please enforce the forced-labour sanctions. " * 4,
                      targets_house=True)
        db.session.commit()
    assert post(staff_client, "/staff/pages/write-to-congress/edit", live).status_code == 303
    assert query("SELECT status FROM action_pages") == [("live",)]
    app.extensions["page_caches"].clear()
    assert staff_client.get("/a/write-to-congress").status_code == 200


def test_long_korean_page_copy_fits(staff_client, query):
    phrase = "북한의강제노동은무기개발자금이됩니다"  # Hangul only: the most bytes a character
    body = (phrase * 3000)[:50_000]  # the most characters the argument may hold
    assert len(body) == 50_000
    assert len(body.encode()) > 64 * 1024  # more than a public form may send
    response = post(staff_client, "/staff/pages/new",
                    page_form(title="강제노동", slug="forced-labour-ko", body_markdown=body))
    assert response.status_code == 303, page_text(response)[:500]
    [(stored,)] = query("SELECT body_markdown FROM action_pages")
    assert stored == body
    too_long = post(staff_client, "/staff/pages/new",
                    page_form(title="Too long", body_markdown="x" * 50_001))
    assert too_long.status_code == 400
    assert "Field cannot be longer than 50000 characters." in page_text(too_long)
