"""Looking after staff accounts: a staff member's own new password, and an operator's
commands to list accounts, set a password and deactivate one. A new password or a
deactivation ends the account's other sessions at once."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash

from tests.staff.conftest import PASSWORD, page_text, page_token

NEW_PASSWORD = "purple otter lantern morning"


@pytest.fixture
def second_browser(app, log_in) -> FlaskClient:
    """The same account signed in from another browser."""
    other = app.test_client()
    token = page_token(other, "/staff/login")
    response = other.post("/staff/login", data={"csrf_token": token,
                                                "email": "ana.staff@example.org",
                                                "password": PASSWORD})
    assert response.status_code == 303
    assert other.get("/staff/").status_code == 200
    return other


def change_password(client: FlaskClient, current: str = PASSWORD, new: str = NEW_PASSWORD,
                    again: str | None = None, token: str | None = None):
    token = token if token is not None else page_token(client, "/staff/account")
    return client.post("/staff/account", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "confirm_password": new if again is None else again})


def password_hash(query) -> str:
    [(stored,)] = query("SELECT password_hash FROM staff_users")
    return stored


def test_a_new_password_keeps_this_session_and_ends_the_others(staff_client, second_browser,
                                                               client, log_in, query):
    response = change_password(staff_client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/account"
    page = staff_client.get("/staff/account")
    assert "Your password is changed" in page_text(page)
    assert staff_client.get("/staff/").status_code == 200
    # The other browser's cookie is still signed by us, but no longer accepted.
    assert second_browser.get("/staff/").status_code == 302
    assert check_password_hash(password_hash(query), NEW_PASSWORD)
    token = page_token(client, "/staff/")
    client.post("/staff/logout", data={"csrf_token": token})
    assert log_in().status_code == 401
    assert log_in(password=NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize("current,new,again,message", [
    ("not my password at all", NEW_PASSWORD, None, "Your current password is not right."),
    (PASSWORD, "too short", None, "The new password must be 12 to 1024 characters."),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords differ."),
    (PASSWORD, PASSWORD, None, "The new password must differ from the current one."),
    ("", NEW_PASSWORD, None, "Please give your current password."),
])
def test_a_refused_change_says_why_and_changes_nothing(staff_client, second_browser, query,
                                                       current, new, again, message):
    before = password_hash(query)
    response = change_password(staff_client, current, new, again)
    assert response.status_code == 400
    assert message in page_text(response)
    assert password_hash(query) == before
    assert staff_client.get("/staff/").status_code == 200
    assert second_browser.get("/staff/").status_code == 200


def test_the_change_needs_the_csrf_token(staff_client, query):
    before = password_hash(query)
    response = change_password(staff_client, token="")
    assert response.status_code == 400
    assert password_hash(query) == before


def test_wrong_current_passwords_are_rate_limited(app, staff_client, query):
    app.config["STAFF_LOGIN_RATE_LIMIT"] = "2/minute"
    try:
        for _ in range(2):
            assert change_password(staff_client, current="a wrong guess here").status_code == 400
        assert change_password(staff_client).status_code == 429
        assert not check_password_hash(password_hash(query), NEW_PASSWORD)
    finally:
        app.config["STAFF_LOGIN_RATE_LIMIT"] = "5/minute;50/hour"


def test_the_account_page_is_linked_from_every_staff_page(staff_client):
    assert 'href="/staff/account"' in staff_client.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize("old_id", ["{id}", "{id}:0"])
def test_cookies_from_before_server_side_sessions_must_sign_in_again(staff_client, query,
                                                                    old_id):
    # Before migration 0007 a cookie carried the bare account id, before 0013 "id:epoch".
    [(user_id,)] = query("SELECT id FROM staff_users")
    with staff_client.session_transaction() as session:
        session["_user_id"] = old_id.format(id=user_id)
    assert staff_client.get("/staff/").status_code == 302


def test_the_operator_lists_accounts(app, create_staff, log_in):
    create_staff()
    create_staff(email="gone@example.org", name="Gone Staff", is_active=False)
    log_in()
    result = app.test_cli_runner().invoke(args=["staff", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ana.staff@example.org\tAna Staff\tadmin\tactive\t20")
    assert lines[1] == "gone@example.org\tGone Staff\tadmin\tdeactivated\tnever signed in"


def test_the_operator_sets_a_password_and_ends_every_session(app, staff_client, log_in,
                                                              monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", NEW_PASSWORD)
    result = app.test_cli_runner().invoke(args=["staff", "set-password", "ANA.staff@example.org"])
    assert result.exit_code == 0, result.output
    assert "New password set for ana.staff@example.org" in result.output
    assert staff_client.get("/staff/").status_code == 302
    assert log_in().status_code == 401
    assert log_in(password=NEW_PASSWORD).status_code == 303


def test_the_operator_cannot_set_a_short_password(app, staff_client, query, monkeypatch):
    before = password_hash(query)
    monkeypatch.setenv("STAFF_PASSWORD", "short")
    result = app.test_cli_runner().invoke(args=["staff", "set-password", "ana.staff@example.org"])
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output
    assert password_hash(query) == before
    assert staff_client.get("/staff/").status_code == 200


def test_deactivating_ends_every_session_and_refuses_sign_in_until_activated(
        app, staff_client, second_browser, log_in, query):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "deactivate", "ana.staff@example.org"])
    assert result.exit_code == 0, result.output
    assert "deactivated and signed out everywhere" in result.output
    assert staff_client.get("/staff/").status_code == 302
    assert second_browser.get("/staff/").status_code == 302
    assert log_in().status_code == 401
    assert query("SELECT is_active FROM staff_users") == [(False,)]

    result = runner.invoke(args=["staff", "activate", "ana.staff@example.org"])
    assert result.exit_code == 0, result.output
    assert log_in().status_code == 303
    assert staff_client.get("/staff/").status_code == 200


@pytest.mark.parametrize("command", ["set-password", "deactivate", "activate"])
def test_an_unknown_account_is_an_error(app, command, monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", NEW_PASSWORD)
    result = app.test_cli_runner().invoke(args=["staff", command, "nobody@example.org"])
    assert result.exit_code == 1
    assert "There is no staff account for nobody@example.org." in result.output


def test_the_first_account_is_an_admin_and_later_ones_editors(app, query, monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", PASSWORD)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["create-staff", "first@example.org", "--name", "First"])
    assert "an admin" in first.output, first.output
    second = runner.invoke(args=["create-staff", "second@example.org", "--name", "Second"])
    assert "an editor" in second.output, second.output
    third = runner.invoke(args=["create-staff", "third@example.org", "--name", "Third",
                                "--admin"])
    assert "an admin" in third.output, third.output
    assert query("SELECT email, is_admin FROM staff_users ORDER BY id") == [
        ("first@example.org", True), ("second@example.org", False), ("third@example.org", True)]


def test_roles_change_but_the_last_admin_stays_one(app, create_staff, query):
    create_staff()  # an admin
    create_staff(email="ed@example.org", name="Ed", is_admin=False)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["staff", "role", "ana.staff@example.org", "editor"])
    assert refused.exit_code == 1
    assert "the only active admin" in refused.output
    assert runner.invoke(args=["staff", "role", "ed@example.org", "admin"]).exit_code == 0
    assert runner.invoke(args=["staff", "role", "ana.staff@example.org", "editor"]).exit_code == 0
    assert query("SELECT email, is_admin FROM staff_users ORDER BY id") == [
        ("ana.staff@example.org", False), ("ed@example.org", True)]
    assert query("SELECT kind, subject FROM staff_events ORDER BY id") == [
        ("account.made_admin", "ed@example.org"), ("account.made_editor", "ana.staff@example.org")]
