"""Headers on answers that carry personal data (no-store) and HSTS in production."""

from __future__ import annotations

import pytest

from campaign import create_app
from campaign.config import load_config
from tests.app.test_config import PRODUCTION_ENV
from tests.helpers import csrf_token, valid_signature
from tests.letters.conftest import default_body, letter_fields


def test_every_answer_to_a_signature_is_no_store(client, create_page, sign):
    slug = create_page()
    assert sign(slug, email="first@example.org").status_code == 303
    signed = sign(slug, email="first@example.org")  # the same email again
    refused = sign(slug, email="not an email")
    for response in (signed, refused):
        assert response.status_code in (303, 400, 409)
        assert response.headers["Cache-Control"] == "no-store"
    assert sign(slug, email="second@example.org").headers["Cache-Control"] == "no-store"


def test_letter_preview_errors_sending_and_status_are_no_store(client, letter_page,
                                                               receipt_status_link):
    slug, _ = letter_page()
    data = {"csrf_token": csrf_token(client, slug), "body": default_body(client, slug),
            **letter_fields()}
    preview = client.post(f"/a/{slug}/letter/preview", data=data)
    assert preview.status_code == 200 and "Hye-jin" in preview.get_data(as_text=True)
    assert preview.headers["Cache-Control"] == "no-store"
    form_errors = client.post(f"/a/{slug}/letter/preview", data={**data, "email": "nope"})
    assert form_errors.status_code == 400
    assert form_errors.headers["Cache-Control"] == "no-store"
    sent = client.post(f"/a/{slug}/letter/send", data=data)
    assert sent.status_code == 303 and sent.headers["Cache-Control"] == "no-store"
    status = client.get(receipt_status_link())
    assert status.status_code == 200 and "Embassy Desk" in status.get_data(as_text=True)
    assert status.headers["Cache-Control"] == "no-store"
    again = client.post(f"/a/{slug}/letter/send", data=data)
    assert again.headers["Cache-Control"] == "no-store"


def test_staff_pages_and_unknown_addresses_are_no_store(client):
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"
    assert client.get("/staff/").headers["Cache-Control"] == "no-store"  # the redirect
    assert client.get("/no/such/page").headers["Cache-Control"] == "no-store"


def test_public_pages_the_same_for_everyone_may_be_cached(client, create_page):
    slug = create_page()
    for path in ("/", f"/a/{slug}", f"/a/{slug}?source=mail", f"/a/{slug}/thanks"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" not in response.headers.get("Cache-Control", ""), path


def test_hsts_is_sent_in_production_only(monkeypatch, app_settings, create_page):
    slug = create_page()
    assert load_config("development").HSTS_MAX_AGE_SECONDS == 0
    assert "Strict-Transport-Security" not in create_app(app_settings).test_client().get(
        f"/a/{slug}").headers

    for name, value in {**PRODUCTION_ENV, "CAMPAIGN_ENV": "production"}.items():
        monkeypatch.setenv(name, value)
    production = create_app(app_settings).test_client()
    expected = f"max-age={365 * 24 * 3600}"
    production.get(f"/a/{slug}")  # renders the page into the fast path's cache
    for path in (f"/a/{slug}", f"/a/{slug}?source=x", "/staff/login", "/nothing-here"):
        assert production.get(path).headers["Strict-Transport-Security"] == expected, path
    token = csrf_token(production, slug)
    signed = production.post(f"/a/{slug}", data={"csrf_token": token, **valid_signature()})
    assert signed.headers["Strict-Transport-Security"] == expected


@pytest.mark.parametrize("value", ["0", "86400"])
def test_hsts_max_age_is_a_setting(monkeypatch, app_settings, create_page, value):
    slug = create_page()
    app = create_app({**app_settings, "HSTS_MAX_AGE_SECONDS": int(value)})
    header = app.test_client().get(f"/a/{slug}").headers.get("Strict-Transport-Security")
    assert header == (None if value == "0" else f"max-age={value}")
