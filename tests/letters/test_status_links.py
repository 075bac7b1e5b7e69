"""A supporter's private link to their letters: random, stored only as a hash, expiring,
dead after erasure, and carried by the receipt."""

from __future__ import annotations

import base64
import hashlib

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import text

from campaign.extensions import db
from campaign.letters.erasure import erase_letters_of
from campaign.supporters.erasure import erase_supporter_record, lock_supporter


def run_here(app, name: str, *args):
    with app.app_context():
        return app.extensions["celery"].tasks[name].apply(args=args)


@pytest.fixture
def status_path(receipt_status_link):
    """The status link of a send, as its supporter gets it: by the receipt (the answer to
    the send is the same neutral page for everyone)."""

    def path(response, email: str = "hye-jin@example.org") -> str:
        assert response.status_code == 303, response.status_code
        assert response.headers["Location"].endswith("/letter/sent")
        link = receipt_status_link(email)
        assert link.startswith("/letters/")
        return link

    return path


def test_the_link_is_random_and_stored_only_as_a_hash(client, letter_page, send_letter, query,
                                                     status_path):
    slug, _ = letter_page()
    first = status_path(send_letter(slug, email="one@example.org"), "one@example.org")
    second = status_path(send_letter(slug, email="two@example.org"), "two@example.org")
    tokens = [first.removeprefix("/letters/"), second.removeprefix("/letters/")]
    response = client.get(first)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert '<meta name="referrer" content="no-referrer">' in response.get_data(as_text=True)

    [(first_id, first_hash, sealed), (second_id, _, _)] = query(
        "SELECT action_id, token_hash, sealed_token FROM letter_status_links ORDER BY action_id")
    assert second_id == first_id + 1
    # 32 random bytes each: consecutive actions share nothing a guess could build on.
    assert [len(base64.urlsafe_b64decode(token + "=")) for token in tokens] == [32, 32]
    assert tokens[0][:8] != tokens[1][:8]
    assert first_hash == hashlib.sha256(tokens[0].encode()).hexdigest()
    assert tokens[0] not in sealed and bytes.fromhex(sealed) not in tokens[0].encode()


def test_the_old_signed_id_links_are_refused(app, client, letter_page, send_letter, query,
                                            status_path):
    slug, _ = letter_page()
    status_path(send_letter(slug))
    [(action_id,)] = query("SELECT id FROM actions")
    old_style = URLSafeSerializer(app.config["SECRET_KEY"], salt="letter-status").dumps(action_id)
    assert client.get(f"/letters/{old_style}").status_code == 404
    assert client.get(f"/letters/{action_id}").status_code == 404
    assert client.get(f"/letters/{'x' * 5000}").status_code == 404


def test_an_expired_link_is_refused(app, client, letter_page, send_letter, status_path):
    slug, _ = letter_page()
    path = status_path(send_letter(slug))
    assert client.get(path).status_code == 200
    with app.app_context():
        db.session.execute(text("UPDATE letter_status_links "
                                "SET expires_at = now() - interval '1 second'"))
        db.session.commit()
    assert client.get(path).status_code == 404


def test_a_link_lasts_the_configured_days(app, letter_page, send_letter, query, monkeypatch,
                                         status_path):
    monkeypatch.setitem(app.config, "LETTER_STATUS_LINK_DAYS", 7)
    slug, _ = letter_page()
    status_path(send_letter(slug))
    [(days,)] = query("SELECT round(extract(epoch FROM expires_at - now()) / 86400) "
                      "FROM letter_status_links")
    assert days == 7


def test_erasure_ends_the_link(app, client, letter_page, send_letter, query, status_path):
    slug, _ = letter_page()
    path = status_path(send_letter(slug))
    [(supporter_id,)] = query("SELECT id FROM supporters")
    with app.app_context():
        erase_letters_of(supporter_id)
        erase_supporter_record(lock_supporter(supporter_id))
        db.session.commit()
    assert query("SELECT count(*) FROM letter_status_links") == [(0,)]
    assert client.get(path).status_code == 404


def test_the_receipt_carries_the_link(letter_page, send_letter, status_path, smtp_sink,
                                      query):
    slug, _ = letter_page()
    path = status_path(send_letter(slug))
    [(token_hash,)] = query("SELECT token_hash FROM letter_status_links")
    assert hashlib.sha256(path.removeprefix("/letters/").encode()).hexdigest() == token_hash
    [receipt] = [mail for mail in smtp_sink.received if mail.rcpt_tos == ["hye-jin@example.org"]]
    assert "the link works for 90 days" in receipt.message.get_body(("plain",)).get_content()


def test_failed_attempts_show_no_raw_error(app, client, letter_page, send_letter, status_path):
    slug, _ = letter_page()
    path = status_path(send_letter(slug))
    with app.app_context():
        db.session.execute(text(
            "INSERT INTO letter_events (letter_id, status, channel, detail, at) "
            "SELECT id, 'failed', 'email', '451 4.2.0 mailbox of hye-jin@example.org busy', "
            "now() FROM letters"))
        db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "hye-jin@example.org" not in page and "451" not in page
    assert "failed (we will try again or deliver it another way)" in page
