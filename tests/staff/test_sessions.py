"""Staff sessions end on the server: a copy of the cookie taken before sign-out, before a
new password, or kept past the idle timeout or the absolute lifetime is refused, forms
included, and a remember-me cookie cannot bring one back."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from flask_login.utils import encode_cookie

from campaign.common.tokens import token_digest
from campaign.extensions import db
from tests.staff.conftest import PASSWORD, page_text, page_token
from tests.staff.test_accounts import change_password, password_hash

SESSIONS = "SELECT ended_at IS NOT NULL, end_reason FROM staff_sessions ORDER BY id"


def saved_cookie(client: FlaskClient) -> str:
    return client.get_cookie("session").value


def replay(client: FlaskClient, cookie: str) -> None:
    """Puts a copy of the session cookie taken earlier back, as a thief would."""
    client.set_cookie("session", cookie)


def sign_out(client: FlaskClient):
    return client.post("/staff/logout", data={"csrf_token": page_token(client, "/staff/")})


def move_back(app, column: str, interval: str) -> None:
    with app.app_context():
        db.session.execute(db.text(
            f"UPDATE staff_sessions SET {column} = {column} - interval '{interval}'"))
        db.session.commit()


def test_a_cookie_replayed_after_sign_out_is_refused(staff_client, query):
    cookie = saved_cookie(staff_client)
    assert sign_out(staff_client).status_code == 303
    assert staff_client.get("/staff/").status_code == 302
    replay(staff_client, cookie)
    response = staff_client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")
    assert query(SESSIONS) == [(True, "signed_out")]


def test_a_form_from_a_signed_out_session_is_refused(staff_client, query):
    before = password_hash(query)
    token = page_token(staff_client, "/staff/account")
    cookie = saved_cookie(staff_client)
    sign_out(staff_client)
    replay(staff_client, cookie)
    # The CSRF token still matches the replayed cookie; the session behind it is over.
    response = change_password(staff_client, token=token)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")
    assert password_hash(query) == before
    assert query(SESSIONS) == [(True, "signed_out")]


def test_signing_out_is_recorded(staff_client, query):
    sign_out(staff_client)
    assert query("SELECT actor, kind FROM staff_events ORDER BY id") == [
        ("ana.staff@example.org", "account.signed_in"),
        ("ana.staff@example.org", "account.signed_out")]


def test_the_cookie_carries_a_random_token_and_the_database_only_its_hash(staff_client,
                                                                         query):
    with staff_client.session_transaction() as session:
        token = session["_user_id"]
    [(user_id,)] = query("SELECT id FROM staff_users")
    assert str(user_id) not in token.split(":")
    assert len(token) >= 40
    [(token_hash,)] = query("SELECT token_hash FROM staff_sessions")
    assert token_hash == token_digest(token) != token


def test_a_remember_me_cookie_cannot_bring_an_ended_session_back(app, staff_client):
    with staff_client.session_transaction() as session:
        token = session["_user_id"]
    with app.test_request_context():
        remember = encode_cookie(token)
    # Flask-Login honours such a cookie only through the same session row.
    before = app.test_client()
    before.set_cookie("remember_token", remember)
    assert before.get("/staff/").status_code == 200
    sign_out(staff_client)
    after = app.test_client()
    after.set_cookie("remember_token", remember)
    assert after.get("/staff/").status_code == 302


@pytest.mark.parametrize("idle_minutes,idle_for", [(None, "31 minutes"), (5, "6 minutes")])
def test_a_session_idle_for_too_long_ends_for_good(app, staff_client, query, monkeypatch,
                                                    idle_minutes, idle_for):
    if idle_minutes is not None:
        monkeypatch.setitem(app.config, "STAFF_SESSION_IDLE_MINUTES", idle_minutes)
    token = page_token(staff_client, "/staff/account")
    move_back(app, "last_seen_at", idle_for)
    response = staff_client.get("/staff/")
    assert response.status_code == 302
    minutes = app.config["STAFF_SESSION_IDLE_MINUTES"]
    assert f"You were signed out after {minutes} minutes without activity." in page_text(
        staff_client.get(response.headers["Location"]))
    assert query(SESSIONS) == [(True, "idle")]
    # Ended, not only idle: activity on the row cannot revive it.
    move_back(app, "last_seen_at", "-" + idle_for)
    assert staff_client.get("/staff/").status_code == 302
    assert change_password(staff_client, token=token).status_code == 302
    assert query("SELECT count(*) FROM staff_events WHERE kind = 'account.password_changed'") \
        == [(0,)]


def test_a_request_within_the_idle_time_keeps_the_session_on(app, staff_client, query):
    move_back(app, "last_seen_at", "29 minutes")
    assert staff_client.get("/staff/").status_code == 200
    [(seen_recently, ended)] = query(
        "SELECT last_seen_at > now() - interval '1 minute', ended_at FROM staff_sessions")
    assert seen_recently and ended is None
    # Twenty-nine minutes later the session is still on: the request above counted.
    move_back(app, "last_seen_at", "29 minutes")
    assert staff_client.get("/staff/").status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(staff_client, query):
    [(first,)] = query("SELECT last_seen_at FROM staff_sessions")
    for _ in range(3):
        assert staff_client.get("/staff/").status_code == 200
    assert query("SELECT last_seen_at FROM staff_sessions") == [(first,)]


@pytest.mark.parametrize("max_hours,age", [(None, "12 hours 1 minute"), (2, "2 hours")])
def test_a_session_ends_at_its_absolute_lifetime_however_busy(app, staff_client, query,
                                                              monkeypatch, max_hours, age):
    if max_hours is not None:
        monkeypatch.setitem(app.config, "STAFF_SESSION_MAX_HOURS", max_hours)
    move_back(app, "created_at", age)
    response = staff_client.get("/staff/")
    assert response.status_code == 302
    hours = app.config["STAFF_SESSION_MAX_HOURS"]
    assert f"a sign-in lasts {hours} hours at most" in page_text(
        staff_client.get(response.headers["Location"]))
    assert query(SESSIONS) == [(True, "expired")]


def test_signing_in_again_starts_a_new_session(staff_client, log_in, query):
    move_back(staff_client.application, "last_seen_at", "1 hour")
    assert staff_client.get("/staff/").status_code == 302
    assert log_in().status_code == 303
    assert staff_client.get("/staff/").status_code == 200
    assert query(SESSIONS) == [(True, "idle"), (False, "")]


def test_sessions_older_than_the_lifetime_are_deleted_at_the_next_sign_in(app, staff_client,
                                                                         log_in, query):
    sign_out(staff_client)
    move_back(app, "created_at", "13 hours")
    assert log_in().status_code == 303
    assert query(SESSIONS) == [(False, "")]


def test_a_new_password_ends_every_session_and_this_browser_gets_a_new_one(app, staff_client,
                                                                          query):
    other = app.test_client()
    token = page_token(other, "/staff/login")
    other.post("/staff/login", data={"csrf_token": token, "email": "ana.staff@example.org",
                                     "password": PASSWORD})
    cookie = saved_cookie(staff_client)
    assert change_password(staff_client).status_code == 303
    assert query(SESSIONS) == [(True, "password"), (True, "password"), (False, "")]
    assert staff_client.get("/staff/").status_code == 200
    assert other.get("/staff/").status_code == 302
    replay(staff_client, cookie)  # this browser's cookie from before the change
    assert staff_client.get("/staff/").status_code == 302


def test_deactivation_ends_every_session(app, staff_client, query):
    result = app.test_cli_runner().invoke(args=["staff", "deactivate", "ana.staff@example.org"])
    assert result.exit_code == 0, result.output
    assert query(SESSIONS) == [(True, "deactivated")]
    assert staff_client.get("/staff/").status_code == 302
    # Activating again lets the account sign in; its old session stays over.
    app.test_cli_runner().invoke(args=["staff", "activate", "ana.staff@example.org"])
    assert staff_client.get("/staff/").status_code == 302


def test_a_refused_password_change_keeps_every_session(staff_client, query):
    before = password_hash(query)
    assert change_password(staff_client, current="not it, not at all").status_code == 400
    assert query(SESSIONS) == [(False, "")]
    assert password_hash(query) == before
    assert staff_client.get("/staff/").status_code == 200
