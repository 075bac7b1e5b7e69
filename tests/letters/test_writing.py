"""A supporter writes: preview, send, and what is recorded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from tests.helpers import csrf_token
from tests.letters.conftest import letter_fields


def counts(query) -> tuple[int, int, int]:
    return tuple(query(f"SELECT count(*) FROM {t}")[0][0]
                 for t in ("supporters", "actions", "letters"))


def test_letter_page_offers_the_editable_letter(client, letter_page):
    slug, _ = letter_page(subject="Stop the trade")
    html = client.get(f"/a/{slug}").get_data(as_text=True)
    assert "Stop the trade" in html
    assert re.search(r'<textarea[^>]*maxlength="5000"[^>]*name="body"', html)
    assert "{target_title}&#39;s problem" in html
    assert f'action="/a/{slug}/letter/preview"' in html


def test_preview_shows_each_letter_as_it_will_be_sent(client, letter_page):
    slug, _ = letter_page()
    data = {"csrf_token": csrf_token(client, slug), "body": "Thank you, {target_title}.",
            **letter_fields()}
    preview = client.post(f"/a/{slug}/letter/preview", data=data)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Dear Embassy Desk,\n\nThank you, Ambassador.\n\nSincerely,\nHye-jin Cho" in html
    assert "Dear UN Mission,\n\nThank you, Permanent Representative." in html
    assert f'action="/a/{slug}/letter/send"' in html


def test_sending_records_one_letter_per_target_and_the_receipt_links_their_status(
        app, client, letter_page, send_letter, smtp_sink, query, receipt_status_link):
    slug, target_ids = letter_page()
    response = send_letter(slug)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/a/{slug}/letter/sent")
    assert counts(query) == (1, 1, 2)
    rows = query("SELECT target_id, status, channel, idempotency_key, is_personalised, "
                 "subject FROM letters ORDER BY target_id")
    [(action_id,)] = query("SELECT id FROM actions")
    assert rows == [(target_id, "queued", "email", f"letter:{action_id}:{target_id}", False,
                     "Stop the forced-labour trade") for target_id in target_ids]
    assert query("SELECT status FROM letter_events") == [("queued",), ("queued",)]
    sent = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "your letters are on their way" in sent
    assert "Check your email" in sent
    status_page = client.get(receipt_status_link())
    assert status_page.status_code == 200
    assert status_page.get_data(as_text=True).count('class="status-queued"') == 2


def test_where_the_supporter_came_from_travels_through_the_preview(client, letter_page,
                                                                   query):
    slug, _ = letter_page()
    html = client.get(f"/a/{slug}?source=Radio&utm_campaign=dec",
                      headers={"Referer": "https://forum.example.net/t/77"}).get_data(as_text=True)
    hidden = dict(re.findall(r'name="(csrf_token|source|utm_\w+|referrer)" type="hidden" '
                             r'value="([^"]*)"', html))
    preview = client.post(f"/a/{slug}/letter/preview",
                          data={**hidden, "body": "Thank you.", **letter_fields()})
    # What the preview's send form carries: its hidden inputs and the letter's text.
    form = preview.get_data(as_text=True).split('action="/a/')[1]
    carried = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form))
    carried["body"] = re.search(r'<textarea name="body" hidden>([^<]*)<', form).group(1)
    assert carried["source"] == "radio" and carried["csrf_token"] == hidden["csrf_token"]
    assert client.post(f"/a/{slug}/letter/send", data=carried).status_code == 303
    # Counted for the page, not stored on the action (ATTRIBUTION_PER_PERSON is off).
    assert query("SELECT source, utm_campaign, referrer FROM actions") == [("", "", "")]
    assert query("SELECT source, utm_campaign, referrer, signatures "
                 "FROM signature_attribution_counts") == [
        ("radio", "dec", "https://forum.example.net", 1)]


def test_an_edited_letter_counts_as_personalised(letter_page, send_letter, query):
    slug, _ = letter_page()
    send_letter(slug, body="In my own words: please act.")
    assert query("SELECT DISTINCT is_personalised FROM letters") == [(True,)]


def test_a_fixed_letter_ignores_what_the_form_sends(letter_page, send_letter, query):
    slug, _ = letter_page(is_editable=False)
    assert send_letter(slug, body="Something else entirely").status_code == 303
    bodies = [row[0] for row in query("SELECT body FROM letters")]
    assert all("Please enforce the sanctions." in body for body in bodies)
    assert not any("Something else" in body for body in bodies)


def test_writing_twice_with_one_email_sends_nothing_more_and_answers_as_a_first_send(
        app, letter_page, send_letter, query):
    from tests.letters.conftest import default_body
    from tests.pages.test_sign import answer

    slug, _ = letter_page()
    send_letter(slug)

    def send_as(client, email):
        data = {"csrf_token": csrf_token(client, slug), "body": default_body(client, slug),
                **letter_fields(email=email, first_name="Someone")}
        assert client.post(f"/a/{slug}/letter/preview", data=data).status_code == 200
        return client.post(f"/a/{slug}/letter/send", data=data)

    tester, newcomer = app.test_client(), app.test_client()
    again = send_as(tester, "HYE-JIN@example.org")
    fresh = send_as(newcomer, "newcomer@example.org")
    assert again.status_code == 303
    assert answer(again) == answer(fresh)
    location = again.headers["Location"]
    assert answer(tester.get(location)) == answer(newcomer.get(location))
    assert counts(query) == (2, 2, 4)  # the newcomer's two letters; none for the second try
    assert query("SELECT first_name FROM supporters ORDER BY id") == [("Hye-jin",),
                                                                        ("Someone",)]


def test_a_receipt_waits_for_the_address_s_next_day_rather_than_being_dropped(
        app, create_page, create_signature, letter_page, send_letter, smtp_sink, query):
    from tests.supporters.test_thank_you import run_task_here

    create_signature(create_page(), email="hye-jin@example.org")
    slug, _ = letter_page()
    send_letter(slug, opt_in="y")
    assert run_task_here(app, "supporters.send_thank_yous").result == 1  # the petition's
    [(status, error, waits)] = query(
        "SELECT thank_you_status, thank_you_error, "
        "thank_you_next_attempt_at > now() + interval '23 hours' FROM actions "
        "WHERE action_page_id = (SELECT id FROM action_pages WHERE slug = :slug)", slug=slug)
    assert (status, error, waits) == ("pending", "waiting: one email per address per day",
                                      True)
    with app.app_context():  # the next day
        db.session.execute(text(
            "UPDATE supporters SET last_emailed_at = last_emailed_at - interval '1 day'; "
            "UPDATE actions SET thank_you_next_attempt_at = now() "
            "WHERE thank_you_status = 'pending'"))
        db.session.commit()
    assert run_task_here(app, "supporters.send_thank_yous").result == 1
    receipt = smtp_sink.wait_for(2)[1].message
    plain = receipt.get_body(("plain",)).get_content()
    assert "http://campaign.test/letters/" in plain
    assert "http://campaign.test/confirm/" in plain  # the opt-in on the letter page


@pytest.mark.parametrize(("fields", "body", "message"), [
    ({}, "x" * 301, "please keep it under 300"),
    ({}, "", "Your letter is empty"),
    ({}, "Hi {boss}", "placeholders we don"),
    ({"first_name": "Hye\r\nBcc: x@example.org"}, None, "single line"),
    ({"town": "Spring\nfield"}, None, "single line"),
    ({"email": "nope"}, None, "look complete"),
])
def test_bad_letters_get_a_clear_message_and_nothing_is_written(letter_page, send_letter,
                                                                query, fields, body, message):
    slug, _ = letter_page(max_length=300)
    response = send_letter(slug, body=body, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert counts(query) == (0, 0, 0)


def test_send_without_preview_is_checked_just_the_same(client, letter_page, query):
    slug, _ = letter_page(max_length=300)
    data = {"csrf_token": csrf_token(client, slug), "body": "x" * 400, **letter_fields()}
    assert client.post(f"/a/{slug}/letter/send", data=data).status_code == 400
    assert client.post(f"/a/{slug}/letter/send", data={**data, "body": "ok",
                                                        "csrf_token": "forged"}).status_code == 400
    assert counts(query) == (0, 0, 0)


def test_html_in_a_letter_is_shown_as_text(client, letter_page, send_letter, query):
    slug, _ = letter_page()
    body = 'See <script>alert(1)</script> and <a href="javascript:x">this</a>'
    data = {"csrf_token": csrf_token(client, slug), "body": body, **letter_fields()}
    preview = client.post(f"/a/{slug}/letter/preview", data=data).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in preview
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    send_letter(slug, body=body)
    stored = query("SELECT body FROM letters LIMIT 1")[0][0]
    assert "<script>alert(1)</script>" in stored  # kept as written; escaped when shown


def test_the_plain_sign_form_cannot_bypass_the_letter(client, letter_page, query):
    slug, _ = letter_page()
    data = {"csrf_token": csrf_token(client, slug), **letter_fields()}
    response = client.post(f"/a/{slug}", data=data)
    assert response.status_code == 400
    assert counts(query) == (0, 0, 0)


def test_status_link_cannot_be_guessed(client, letter_page, send_letter, receipt_status_link):
    slug, _ = letter_page()
    send_letter(slug)
    link = receipt_status_link()
    token = link.split("/letters/")[1].split("?")[0]
    assert client.get(f"/letters/{token}").status_code == 200
    assert client.get("/letters/1").status_code == 404
    assert client.get(f"/letters/{token[:-2]}xx").status_code == 404


def test_idempotency_keys_are_unique_in_the_database(app, letter_page, send_letter):
    slug, _ = letter_page()
    send_letter(slug)
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(text(
                "INSERT INTO letters (idempotency_key, action_id, action_page_id, target_id, "
                "subject, body, body_hash, is_personalised, status, channel, attempts, "
                "created_at, last_error) SELECT idempotency_key, action_id, action_page_id, "
                "target_id, subject, body, body_hash, is_personalised, status, channel, "
                "attempts, created_at, last_error FROM letters LIMIT 1"))


def test_change_my_letter_goes_back_to_the_form_with_what_was_written(client, letter_page,
                                                                      query):
    slug, _ = letter_page()
    data = {"csrf_token": csrf_token(client, slug), "body": "My own <b>draft</b>.",
            **letter_fields(town="Springfield")}
    response = client.post(f"/a/{slug}/letter/edit", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*My own &lt;b&gt;draft&lt;/b&gt;.', html)
    assert 'value="Springfield"' in html
    assert client.post(f"/a/{slug}/letter/edit", data={**data, "csrf_token": "x"}
                       ).status_code == 400
    assert counts(query) == (0, 0, 0)
