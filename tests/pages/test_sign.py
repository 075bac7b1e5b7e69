"""Signing an action page: what gets written, and what bad input gets back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from tests.helpers import CSRF_PATTERN, csrf_token, valid_signature


def counts(query) -> tuple[int, int, int]:
    return tuple(query(f"SELECT count(*) FROM {t}")[0][0]
                 for t in ("supporters", "actions", "consents"))


def test_page_shows_argument_evidence_and_an_unticked_opt_in(client, create_page):
    slug = create_page(title="Stop forced repatriation",
                       cards=[("Labour exports fund missiles.", "Bush Institute, 2017",
                               "https://www.bushcenter.org/")])
    response = client.get(f"/a/{slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Stop forced repatriation" in html
    assert "<strong>missiles</strong>" in html
    assert "Labour exports fund missiles." in html
    assert 'href="https://www.bushcenter.org/"' in html
    assert "<progress" in html
    opt_in = re.search(r'<input[^>]*name="opt_in"[^>]*>', html).group(0)
    assert "checked" not in opt_in


def test_sign_writes_supporter_action_and_pending_consent_then_thanks(client, create_page,
                                                                      sign, query):
    slug = create_page()
    response = sign(slug, email="  Ji-Woo@Example.ORG ", opt_in="y")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/a/{slug}/thanks")
    assert query("SELECT email, first_name, last_name, postal_code FROM supporters") == [
        ("ji-woo@example.org", "Ji-woo", "Park", "10001")]
    assert query("SELECT thank_you_status FROM actions") == [("pending",)]
    assert query("SELECT kind, wording_version, confirmed_at FROM consents") == [
        ("email_updates", "email-updates-2026-11", None)]  # until its owner confirms
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you for signing" in thanks
    assert "<strong>1</strong> person has acted" in thanks


def test_no_consent_is_recorded_without_the_box_ticked(create_page, sign, query):
    slug = create_page()
    assert sign(slug).status_code == 303
    assert counts(query) == (1, 1, 0)


def test_count_is_exact_after_each_signature(client, create_page, sign):
    slug = create_page(goal=10)
    for n in range(3):
        sign(slug, email=f"person{n}@example.org")
    html = client.get(f"/a/{slug}").get_data(as_text=True)
    assert "<strong>3</strong> people have acted" in html
    assert re.search(r'<progress max="10" value="3">', html)


def answer(response) -> tuple:
    """What a response tells its reader: status, every header but the date, and the body
    without the visitor's own form token."""
    return (response.status_code,
            sorted((name, value) for name, value in response.headers.items()
                   if name != "Date"),
            CSRF_PATTERN.sub("", response.get_data(as_text=True)))


def test_a_second_signature_gets_the_answer_a_first_one_gets_and_changes_nothing(
        app, create_page, sign, query):
    slug = create_page()
    assert sign(slug, opt_in="y").status_code == 303
    # Someone testing whether ji-woo@example.org signed, and a newcomer: each in a
    # browser of their own, with the same form otherwise.
    tester, newcomer = app.test_client(), app.test_client()
    fields = {"first_name": "Someone", "last_name": "Else", "opt_in": "y"}
    duplicate = tester.post(f"/a/{slug}", data={
        "csrf_token": csrf_token(tester, slug),
        **valid_signature(email="JI-WOO@example.org", **fields)})
    fresh = newcomer.post(f"/a/{slug}", data={
        "csrf_token": csrf_token(newcomer, slug),
        **valid_signature(email="newcomer@example.org", **fields)})

    assert duplicate.status_code == 303
    assert duplicate.headers["Location"].endswith(f"/a/{slug}/thanks")
    assert answer(duplicate) == answer(fresh)
    location = duplicate.headers["Location"]
    assert answer(tester.get(location)) == answer(newcomer.get(location))
    assert counts(query) == (2, 2, 2)
    assert query("SELECT first_name, last_name FROM supporters ORDER BY id") == [
        ("Ji-woo", "Park"), ("Someone", "Else")]


def test_second_page_adds_an_action_but_never_overwrites_details(create_page, sign, query):
    first, second = create_page(), create_page()
    sign(first, postal_code="")
    assert sign(second, first_name="Mallory", postal_code="20500").status_code == 303
    assert query("SELECT first_name, postal_code FROM supporters") == [("Ji-woo", "20500")]
    assert counts(query) == (1, 2, 0)


@pytest.mark.parametrize("per_person", [False, True])
def test_source_utm_and_referring_site_travel_with_the_signature(app, client, create_page,
                                                                 query, monkeypatch,
                                                                 per_person):
    """Counted per page and day always; stored on the action only with
    ATTRIBUTION_PER_PERSON on (off by default)."""
    monkeypatch.setitem(app.config, "ATTRIBUTION_PER_PERSON", per_person)
    slug = create_page()
    page = client.get(f"/a/{slug}?source=Newsletter&utm_source=mail&utm_campaign=nov",
                      headers={"Referer": "https://news.example.org/story?thread=42"})
    html = page.get_data(as_text=True)
    hidden = dict(re.findall(r'name="(source|utm_\w+|referrer)" type="hidden" value="([^"]*)"',
                             html))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post(f"/a/{slug}", data={"csrf_token": token, **hidden,
                                               **valid_signature()})
    assert response.status_code == 303
    came_from = ("newsletter", "mail", "nov", "https://news.example.org")
    assert query("SELECT source, utm_source, utm_campaign, referrer FROM actions") == [
        came_from if per_person else ("", "", "", "")]
    assert query("SELECT source, utm_source, utm_campaign, referrer, signatures, "
                 "day = CAST(now() AT TIME ZONE 'UTC' AS date) "
                 "FROM signature_attribution_counts") == [(*came_from, 1, True)]


BAD_FIELDS = [
    ({"email": ""}, "Please give your email address."),
    ({"email": "not-an-email"}, "doesn&#39;t look complete"),
    ({"email": "a@b"}, "doesn&#39;t look complete"),
    ({"first_name": "x" * 101}, "under 100 characters"),
    ({"last_name": "Park\r\nBcc: victim@example.org"}, "single line"),
    ({"first_name": "Ji\nwoo"}, "single line"),
    ({"first_name": ""}, "Please give your first name."),
    ({"postal_code": "<script>"}, "only letters, digits"),
    ({"country": "USA"}, "two-letter code"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS)
def test_bad_fields_get_a_clear_message_and_nothing_is_written(create_page, sign, query,
                                                               fields, message):
    slug = create_page()
    response = sign(slug, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts(query) == (0, 0, 0)


def test_missing_or_wrong_csrf_token_is_refused(client, create_page, query):
    slug = create_page()
    client.get(f"/a/{slug}")
    missing = client.post(f"/a/{slug}", data=valid_signature())
    wrong = client.post(f"/a/{slug}", data={"csrf_token": "forged", **valid_signature()})
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "Reload the page" in response.get_data(as_text=True)
    assert counts(query) == (0, 0, 0)


def test_a_token_works_only_with_the_cookie_of_the_browser_it_was_given_to(app, create_page,
                                                                          query):
    slug = create_page()
    mine, theirs = app.test_client(), app.test_client()
    token = csrf_token(mine, slug)
    theirs.get(f"/a/{slug}")  # a browser with a form cookie of its own
    replayed = theirs.post(f"/a/{slug}", data={"csrf_token": token, **valid_signature()})
    cookieless = app.test_client().post(f"/a/{slug}",
                                        data={"csrf_token": token, **valid_signature()})
    for response in (replayed, cookieless):
        assert response.status_code == 400
        assert "Reload the page" in response.get_data(as_text=True)
    assert counts(query) == (0, 0, 0)
    assert mine.post(f"/a/{slug}", data={"csrf_token": token, **valid_signature()}
                     ).status_code == 303


def test_a_page_view_sets_one_form_cookie_and_no_session(client, create_page):
    slug = create_page()
    first = client.get(f"/a/{slug}")
    [cookie] = first.headers.getlist("Set-Cookie")
    assert cookie.startswith("campaign_form=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # gone with the browser session
    again = client.get(f"/a/{slug}")
    assert again.headers.getlist("Set-Cookie") == []  # the same cookie, the same token
    assert (CSRF_PATTERN.search(first.get_data(as_text=True)).group(1)
            == CSRF_PATTERN.search(again.get_data(as_text=True)).group(1))


def test_unknown_and_draft_pages_are_not_found(client, create_page, query):
    draft = create_page(status="draft")
    assert client.get("/a/no-such-page").status_code == 404
    assert client.get(f"/a/{draft}").status_code == 404
    assert client.post(f"/a/{draft}", data=valid_signature()).status_code in (400, 404)
    assert client.post("/a/no-such-page", data=valid_signature()).status_code in (400, 404)
    assert counts(query) == (0, 0, 0)


def test_closed_page_shows_its_message_and_refuses_signatures(client, create_page, query,
                                                              app):
    live = create_page(closed_message="Delivered to the embassy on 1 May.")
    token = csrf_token(client, live)
    with app.app_context():
        db.session.execute(text("UPDATE action_pages SET status = 'closed'"))
        db.session.commit()
    page = client.get(f"/a/{live}").get_data(as_text=True)
    assert "Delivered to the embassy on 1 May." in page
    assert "<form" not in page
    response = client.post(f"/a/{live}", data={"csrf_token": token, **valid_signature()})
    assert response.status_code == 410
    assert counts(query) == (0, 0, 0)


def test_body_that_is_not_utf8_is_refused(client, create_page, query):
    slug = create_page()
    token = csrf_token(client, slug)
    body = (f"csrf_token={token}&first_name=%FF%FE&last_name=Park&email=a%40example.org"
            .encode())
    response = client.post(f"/a/{slug}", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)
    raw = client.post(f"/a/{slug}", data=b"first_name=\xff\xfe&email=a",
                      content_type="application/x-www-form-urlencoded")
    assert raw.status_code == 400
    assert counts(query) == (0, 0, 0)


def test_honeypot_looks_like_success_and_records_nothing(create_page, sign, query):
    slug = create_page()
    response = sign(slug, website="http://spam.example")
    assert response.status_code == 303
    assert counts(query) == (0, 0, 0)


def test_submissions_are_rate_limited_per_address(app, create_page, sign, query):
    slug = create_page()
    app.config["SIGN_RATE_LIMIT"] = "3/minute"
    try:
        statuses = [sign(slug, email=f"p{n}@example.org").status_code for n in range(5)]
    finally:
        app.config["SIGN_RATE_LIMIT"] = "1000/minute"
    assert statuses == [303, 303, 303, 429, 429]
    assert counts(query)[1] == 3


def test_email_uniqueness_is_case_insensitive_in_the_database(app):
    with app.app_context():
        db.session.execute(text("INSERT INTO supporters (email, first_name, last_name, "
                                "postal_code, country, created_at) VALUES "
                                "('a@example.org', '', '', '', '', now())"))
        db.session.commit()
        for email in ("a@example.org", "A@example.org"):
            with pytest.raises(IntegrityError):
                db.session.execute(text(
                    "INSERT INTO supporters (email, first_name, last_name, postal_code, "
                    "country, created_at) VALUES (:e, '', '', '', '', now())"), {"e": email})
            db.session.rollback()


def test_markdown_body_is_sanitised(client, create_page):
    slug = create_page(body_markdown="Hi <script>alert(1)</script> [x](javascript:alert(1)) "
                                     "<img src=https://tracker.example/p.gif>")
    html = client.get(f"/a/{slug}").get_data(as_text=True)
    assert "<script>alert" not in html
    assert 'href="javascript' not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html  # shown as the text it is


def test_pages_load_nothing_from_another_origin(client, create_page):
    slug = create_page()
    response = client.get(f"/a/{slug}")
    html = response.get_data(as_text=True)
    for url in re.findall(r'<(?:script|link|img|iframe)[^>]*(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script" not in html  # works without JavaScript because it uses none


def test_views_are_counted_in_aggregate_only(client, create_page, query):
    slug = create_page()
    for _ in range(3):
        client.get(f"/a/{slug}?source=tw")
    client.get(f"/a/{slug}")
    rows = query("SELECT source, views FROM page_view_counts ORDER BY source")
    assert rows == [("", 1), ("tw", 3)]
    columns = {row[0] for row in query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'page_view_counts'")}
    assert columns == {"action_page_id", "day", "source", "views"}


def test_index_lists_live_pages_only(client, create_page):
    live = create_page(title="Live one")
    create_page(title="Draft one", status="draft")
    html = client.get("/").get_data(as_text=True)
    assert "Live one" in html and f"/a/{live}" in html
    assert "Draft one" not in html
