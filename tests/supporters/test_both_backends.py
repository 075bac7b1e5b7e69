"""Signing, the thank-you and the consent link on PostgreSQL and on SQLite alike.

On SQLite (the embedded default) a signature goes through the portable path of
record_signature / commit_signature, and the thank-you is built and written to the outbox
folder inside the signing request, right after its commit."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.supporters.models import Action, Supporter
from tests.helpers import CSRF_PATTERN
from tests.pages.test_sign import answer

CONFIRM_LINK = re.compile(r"http://campaign\.test/confirm/([A-Za-z0-9_-]+)")
CONFIRMED = "SELECT count(*) FROM consents WHERE confirmed_at IS NOT NULL"


def counts(site) -> tuple[int, int, int]:
    return tuple(site.query(f"SELECT count(*) FROM {table}")[0][0]
                 for table in ("supporters", "actions", "consents"))


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_signature_writes_supporter_action_pending_consent_and_one_thank_you(site):
    slug = site.create_page(title="Stop forced repatriation")
    client = site.app.test_client()
    response = site.sign(slug, client, email="  Ji-Woo@Example.ORG ", opt_in="y")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/a/{slug}/thanks")
    assert site.query("SELECT email, first_name, last_name, postal_code FROM supporters") == [
        ("ji-woo@example.org", "Ji-woo", "Park", "10001")]
    assert site.query("SELECT kind, wording_version, confirmed_at FROM consents") == [
        ("email_updates", "email-updates-2026-11", None)]
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>1</strong> person has acted" in thanks

    [mail] = site.mail()
    assert mail["To"] == "Ji-woo Park <ji-woo@example.org>"
    assert mail["Subject"] == "Thank you for signing: Stop forced repatriation"
    assert "Dear Ji-woo," in plain(mail)
    assert site.query("SELECT thank_you_status, thank_you_attempts FROM actions") == [
        ("sent", 1)]


def test_a_second_signature_gets_the_answer_a_first_one_gets_and_changes_nothing(site):
    slug = site.create_page()
    assert site.sign(slug, opt_in="y").status_code == 303
    tester, newcomer = site.app.test_client(), site.app.test_client()
    fields = {"first_name": "Someone", "last_name": "Else", "opt_in": "y"}
    duplicate = site.sign(slug, tester, email="JI-WOO@example.org", **fields)
    fresh = site.sign(slug, newcomer, email="newcomer@example.org", **fields)
    assert duplicate.status_code == 303
    assert answer(duplicate) == answer(fresh)
    location = duplicate.headers["Location"]
    assert answer(tester.get(location)) == answer(newcomer.get(location))
    assert counts(site) == (2, 2, 2)
    assert site.query("SELECT first_name, last_name FROM supporters ORDER BY id") == [
        ("Ji-woo", "Park"), ("Someone", "Else")]
    # One thank-you each; the second signature asked for no notice while the first
    # thank-you was still to be sent.
    assert sorted(mail["To"] for mail in site.mail()) == [
        "Ji-woo Park <ji-woo@example.org>", "Someone Else <newcomer@example.org>"]


def test_a_second_page_adds_an_action_and_only_fills_in_blank_details(site):
    first, second = site.create_page(), site.create_page()
    site.sign(first, postal_code="")
    assert site.sign(second, first_name="Mallory", postal_code="20500").status_code == 303
    assert site.query("SELECT first_name, postal_code FROM supporters") == [
        ("Ji-woo", "20500")]
    assert counts(site) == (1, 2, 0)


def test_one_email_a_day_per_address_across_pages(site):
    first, second = site.create_page(), site.create_page()
    site.sign(first)
    site.sign(second, email="JI-WOO@example.org")
    assert [mail["To"] for mail in site.mail()] == ["Ji-woo Park <ji-woo@example.org>"]
    assert site.query("SELECT thank_you_status, thank_you_error FROM actions ORDER BY id") == [
        ("sent", ""), ("skipped", "not sent: one email per address per day")]


def test_the_link_in_the_thank_you_confirms_the_pending_consent(site):
    slug = site.create_page()
    site.sign(slug, opt_in="y")
    [mail] = site.mail()
    [token] = set(CONFIRM_LINK.findall(plain(mail)))
    scanner = site.app.test_client()
    assert scanner.get(f"/confirm/{token}").status_code == 200
    assert scanner.post(f"/confirm/{token}").status_code == 400  # no form token
    assert site.query(CONFIRMED) == [(0,)]

    owner = site.app.test_client()
    page = owner.get(f"/confirm/{token}").get_data(as_text=True)
    confirmed = owner.post(f"/confirm/{token}",
                           data={"csrf_token": CSRF_PATTERN.search(page).group(1)})
    assert confirmed.status_code == 200
    assert site.query(CONFIRMED) == [(1,)]
    assert site.query("SELECT confirm_token_hash FROM consents") == [(None,)]
    assert owner.get(f"/confirm/{token}").status_code == 410  # spent


def test_where_signers_came_from_is_counted_and_a_second_signature_is_not(site):
    slug = site.create_page()
    client = site.app.test_client()
    page = client.get(f"/a/{slug}?source=Newsletter&utm_source=mail&utm_campaign=nov",
                      headers={"Referer": "https://news.example.org/story?thread=42"})
    hidden = dict(re.findall(r'name="(source|utm_\w+|referrer)" type="hidden" value="([^"]*)"',
                             page.get_data(as_text=True)))
    for email in ("a@example.org", "b@example.org", "A@example.org"):
        assert site.sign(slug, client, email=email, **hidden).status_code == 303
    assert site.query("SELECT source, utm_source, utm_campaign, referrer, signatures "
                      "FROM signature_attribution_counts") == [
        ("newsletter", "mail", "nov", "https://news.example.org", 2)]
    # Not tied to a person unless ATTRIBUTION_PER_PERSON is on.
    assert site.query("SELECT DISTINCT source, utm_campaign, referrer FROM actions") == [
        ("", "", "")]



def as_if_a_day_passed(site) -> None:
    """The address's day of email, and each page's day of notices, are over. Through the
    ORM, so that SQLite stores the time as the app does."""
    earlier = utcnow() - timedelta(hours=25)
    with site.app.app_context():
        db.session.execute(update(Supporter).values(last_emailed_at=earlier))
        db.session.execute(update(Action).where(Action.notice_requested_at.is_not(None))
                           .values(notice_requested_at=earlier))
        db.session.commit()


def test_the_owner_hears_of_a_second_signature_once_a_day_per_page(site):
    slug = site.create_page(title="Stop forced repatriation")
    site.sign(slug)
    assert len(site.mail()) == 1
    as_if_a_day_passed(site)
    assert site.sign(slug, first_name="Someone").status_code == 303
    mail = site.mail()
    assert [message["Subject"] for message in mail] == [
        "Thank you for signing: Stop forced repatriation",
        "You had already taken part: Stop forced repatriation"]
    assert mail[1]["To"] == "Ji-woo Park <ji-woo@example.org>"
    for _ in range(2):
        site.sign(slug)
    assert len(site.mail()) == 2  # that page's notice was sent today
    as_if_a_day_passed(site)
    site.sign(slug)
    assert len(site.mail()) == 3
    assert site.query("SELECT count(*) FROM actions") == [(1,)]
