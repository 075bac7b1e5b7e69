"""Opting in to email updates is the address owner's confirmed step: the link in the
thank-you shows a page (mail scanners fetch it and change nothing), its button confirms."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import text

from campaign.extensions import db
from tests.helpers import CSRF_PATTERN, csrf_token
from tests.supporters.test_thank_you import run_task_here

CONFIRM_LINK = re.compile(r"http://campaign\.test/confirm/([A-Za-z0-9_-]+)")


def consent_state(query) -> list[tuple]:
    return query("SELECT confirmed_at IS NOT NULL, confirm_token_hash FROM consents "
                 "ORDER BY id")


def confirmation_token(app, smtp_sink, count: int = 1) -> str:
    run_task_here(app, "supporters.send_thank_yous")
    mail = smtp_sink.wait_for(count)[count - 1]
    plain = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    [token] = set(CONFIRM_LINK.findall(plain))
    assert f"http://campaign.test/confirm/{token}" in html
    return token


def test_the_box_records_a_pending_consent_that_only_a_post_confirms(app, create_page, sign,
                                                                     smtp_sink, query):
    slug = create_page()
    assert sign(slug, opt_in="y").status_code == 303
    token = confirmation_token(app, smtp_sink)
    [(confirmed, stored)] = consent_state(query)
    assert not confirmed
    assert stored == hashlib.sha256(token.encode()).hexdigest()  # never the token itself

    # A mail scanner follows the link, more than once, without cookies; and posts to it.
    scanner = app.test_client()
    for _ in range(2):
        page = scanner.get(f"/confirm/{token}")
        assert page.status_code == 200
        assert "Yes, email me updates" in page.get_data(as_text=True)
        assert page.headers["Cache-Control"] == "no-store"
    assert app.test_client().post(f"/confirm/{token}").status_code == 400
    assert consent_state(query) == [(False, stored)]

    owner = app.test_client()
    page = owner.get(f"/confirm/{token}").get_data(as_text=True)
    confirmed = owner.post(f"/confirm/{token}",
                           data={"csrf_token": CSRF_PATTERN.search(page).group(1)})
    assert confirmed.status_code == 200
    assert "you will get our updates" in confirmed.get_data(as_text=True)
    assert consent_state(query) == [(True, None)]
    assert owner.get(f"/confirm/{token}").status_code == 410  # spent


def test_an_expired_link_confirms_nothing(app, create_page, sign, smtp_sink, query):
    slug = create_page()
    sign(slug, opt_in="y")
    token = confirmation_token(app, smtp_sink)
    with app.app_context():
        db.session.execute(text(
            "UPDATE consents SET confirm_expires_at = now() - interval '1 second'"))
        db.session.commit()
    owner = app.test_client()
    page = owner.get(f"/confirm/{token}")
    assert page.status_code == 410
    assert "no longer works" in page.get_data(as_text=True)
    csrf = CSRF_PATTERN.search(owner.get(f"/a/{slug}").get_data(as_text=True)).group(1)
    assert owner.post(f"/confirm/{token}", data={"csrf_token": csrf}).status_code == 410
    assert owner.get("/confirm/not-a-token").status_code == 410
    assert consent_state(query)[0][0] is False


def test_no_box_no_link(app, create_page, sign, smtp_sink):
    sign(create_page())
    run_task_here(app, "supporters.send_thank_yous")
    [mail] = smtp_sink.wait_for(1)
    assert "/confirm/" not in mail.message.get_body(("plain",)).get_content()


def test_only_confirmed_consents_count_as_opted_in(app, client, create_page, sign, smtp_sink,
                                                   query):
    from campaign.pages.models import ActionPage
    from campaign.staff.reports import page_report

    slug = create_page()
    sign(slug, opt_in="y")
    token = confirmation_token(app, smtp_sink)
    sign(slug, email="other@example.org", opt_in="y")
    csrf = CSRF_PATTERN.search(client.get(f"/confirm/{token}").get_data(as_text=True)).group(1)
    assert client.post(f"/confirm/{token}", data={"csrf_token": csrf}).status_code == 200
    with app.app_context():
        page = db.session.scalars(db.select(ActionPage).where(ActionPage.slug == slug)).one()
        report = page_report(page)
    assert (report.signatures, report.opt_ins) == (2, 1)
    assert [row.opt_ins for row in report.days] == [1]


def test_confirming_is_rate_limited_like_the_other_public_forms(app, client, create_page):
    slug = create_page()
    token = csrf_token(client, slug)
    app.config["SIGN_RATE_LIMIT"] = "3/minute"
    try:
        statuses = [client.post(f"/confirm/{'x' * 43}{n}", data={"csrf_token": token}
                                ).status_code for n in range(5)]
    finally:
        app.config["SIGN_RATE_LIMIT"] = "1000/minute"
    assert statuses == [410, 410, 410, 429, 429]
