"""Staff sign-in: one generic failure, rate limited, CSRF-protected, and every staff
page closed to anyone signed out."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from werkzeug.security import check_password_hash

from campaign.auth.views import LOGIN_FAILED
from campaign.extensions import db
from tests.staff.conftest import PASSWORD, page_text, page_token

STAFF_ROUTES = [
    ("GET", "/staff/"),
    ("GET", "/staff/pages/any-page/letters"),
    ("POST", "/staff/pages/any-page/letters"),
    ("GET", "/staff/pages/any-page/giving"),
    ("POST", "/staff/pages/any-page/giving"),
    ("GET", "/staff/target-lists"),
    ("POST", "/staff/target-lists"),
    ("GET", "/staff/batches"),
    ("GET", "/staff/batches/1.csv"),
    ("GET", "/staff/batches/1/print"),
    ("POST", "/staff/batches/1/delivered"),
    ("GET", "/staff/pages/new"),
    ("POST", "/staff/pages/new"),
    ("GET", "/staff/pages/any-page/edit"),
    ("POST", "/staff/pages/any-page/edit"),
    ("GET", "/staff/pages/any-page/preview"),
    ("GET", "/staff/pages/any-page/report"),
    ("GET", "/staff/pages/any-page/report.csv"),
    ("GET", "/staff/activity"),
    ("GET", "/staff/supporters/"),
    ("GET", "/staff/supporters/1"),
    ("POST", "/staff/supporters/1/erase"),
    ("GET", "/staff/account"),
    ("POST", "/staff/account"),
    ("GET", "/staff/donations"),
    ("GET", "/staff/donations.csv"),
    ("GET", "/staff/donations/1"),
    ("POST", "/staff/donations/1/refund"),
    ("GET", "/staff/monthly-gifts"),
]


def failure_text(response) -> str:
    """The page without its per-request CSRF token, to compare failures byte for byte."""
    return re.sub(r'value="[^"]*"', "", page_text(response))


def test_signing_in_opens_the_staff_pages_and_records_the_time(client, create_staff, log_in,
                                                               query):
    create_staff(email="Ana.Staff@Example.org")
    assert query("SELECT last_login_at FROM staff_users") == [(None,)]
    response = log_in(email="  ANA.STAFF@example.org ")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"
    [(last_login_at,)] = query("SELECT last_login_at FROM staff_users")
    assert last_login_at is not None
    index = client.get("/staff/")
    assert index.status_code == 200
    assert "Ana Staff" in page_text(index)
    assert "Sign out" in page_text(index)


def test_the_password_is_stored_as_a_salted_hash(create_staff, query):
    create_staff()
    [(password_hash,)] = query("SELECT password_hash FROM staff_users")
    assert PASSWORD not in password_hash
    assert password_hash.startswith("scrypt:")
    assert check_password_hash(password_hash, PASSWORD)


def test_unknown_email_wrong_password_and_disabled_account_fail_alike(client, create_staff,
                                                                      log_in):
    create_staff()
    create_staff(email="gone@example.org", is_active=False)
    unknown = log_in(email="nobody@example.org")
    wrong = log_in(email="ana.staff@example.org", password="not the password at all")
    disabled = log_in(email="gone@example.org")
    for response in (unknown, wrong, disabled):
        assert response.status_code == 401
        assert LOGIN_FAILED in page_text(response)
        assert client.get("/staff/").status_code == 302
    # Nothing in the page says which part was wrong; only the typed email differs.
    assert failure_text(unknown).replace("nobody@example.org", "X") == \
        failure_text(wrong).replace("ana.staff@example.org", "X")
    assert failure_text(wrong).replace("ana.staff@example.org", "X") == \
        failure_text(disabled).replace("gone@example.org", "X")
    assert "not the password" not in failure_text(wrong)


def test_sign_in_needs_the_csrf_token(client, create_staff):
    create_staff()
    response = client.post("/staff/login", data={"email": "ana.staff@example.org",
                                                  "password": PASSWORD})
    assert response.status_code == 400
    assert "Your form expired" in page_text(response)
    assert client.get("/staff/").status_code == 302


def test_failed_sign_ins_are_rate_limited(app, client, create_staff, log_in):
    create_staff()
    app.config["STAFF_LOGIN_RATE_LIMIT"] = "3/minute"
    try:
        for _ in range(3):
            assert log_in(password="wrong password, try again").status_code == 401
        blocked = log_in()  # even the right password waits now
        assert blocked.status_code == 429
        assert "Too many requests" in page_text(blocked)
        assert client.get("/staff/").status_code == 302
    finally:
        app.config["STAFF_LOGIN_RATE_LIMIT"] = "5/minute;50/hour"


def test_successful_sign_ins_do_not_use_up_the_limit(app, client, create_staff, log_in):
    create_staff()
    app.config["STAFF_LOGIN_RATE_LIMIT"] = "2/minute"
    try:
        for _ in range(4):
            assert log_in().status_code == 303
            token = page_token(client, "/staff/")
            assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    finally:
        app.config["STAFF_LOGIN_RATE_LIMIT"] = "5/minute;50/hour"


@pytest.mark.parametrize("method,url", STAFF_ROUTES)
def test_every_staff_page_sends_the_signed_out_to_sign_in(client, method, url):
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={"csrf_token": page_token(client, "/staff/login")})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")
    assert response.headers["Cache-Control"] == "no-store"
    login = client.get(response.headers["Location"])
    assert "Please sign in to see staff pages." in page_text(login)


def test_the_signed_out_list_covers_every_staff_route(app):
    # By address, not endpoint: letters and targets keep their staff pages under /staff.
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/staff/")
              and rule.endpoint not in ("auth.login", "auth.logout")
              for method in rule.methods
              if method in ("GET", "POST")}
    tested = {(method, re.sub(r"any-page", "<slug>", re.sub(
                  r"/1(?=[./]|$)", "/<int:supporter_id>" if "supporters" in url
                  else "/<int:donation_id>" if "donations" in url
                  else "/<int:batch_id>", url)))
              for method, url in STAFF_ROUTES}
    assert routes == tested


def test_after_sign_in_the_user_returns_to_the_page_they_asked_for(client, create_staff, log_in):
    create_staff()
    assert client.get("/staff/batches").headers["Location"] == \
        "/staff/login?next=%2Fstaff%2Fbatches"
    response = log_in(next_url="/staff/batches")
    assert response.headers["Location"] == "/staff/batches"


@pytest.mark.parametrize("next_url", ["//evil.example/staff", "https://evil.example/",
                                      "/\\evil.example", "javascript:alert(1)"])
def test_next_never_leads_off_the_site(client, create_staff, log_in, next_url):
    create_staff()
    response = log_in(next_url=next_url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"


def test_signing_out_needs_a_post_with_the_csrf_token(staff_client):
    assert staff_client.get("/staff/logout").status_code == 405
    assert staff_client.post("/staff/logout").status_code == 400
    assert staff_client.get("/staff/").status_code == 200
    token = page_token(staff_client, "/staff/")
    response = staff_client.post("/staff/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/login"
    assert "You are signed out." in page_text(staff_client.get("/staff/login"))
    assert staff_client.get("/staff/").status_code == 302


def test_a_session_moved_to_another_browser_is_dropped(staff_client):
    assert staff_client.get("/staff/").status_code == 200
    moved = staff_client.get("/staff/", headers={"User-Agent": "SomethingElse/1.0"})
    assert moved.status_code == 302


def test_a_disabled_account_is_signed_out_on_its_next_request(app, staff_client):
    assert staff_client.get("/staff/").status_code == 200
    with app.app_context():
        db.session.execute(text("UPDATE staff_users SET is_active = false"))
        db.session.commit()
    assert staff_client.get("/staff/").status_code == 302


def test_staff_pages_are_never_cached(client, staff_client):
    for url in ("/staff/", "/staff/batches", "/staff/target-lists"):
        assert staff_client.get(url).headers["Cache-Control"] == "no-store"
    staff_client.post("/staff/logout", data={"csrf_token": page_token(staff_client, "/staff/")})
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"


# `create-staff` is the command's name before it joined the `staff` group: the README
# and operators' scripts of that time keep working.
@pytest.mark.parametrize("command", [["staff", "create"], ["create-staff"]])
def test_create_staff_from_the_command_line(app, query, monkeypatch, command):
    monkeypatch.setenv("STAFF_PASSWORD", "a long enough password")
    result = app.test_cli_runner().invoke(
        args=[*command, "Jin.Lee@Example.ORG", "--name", "Jin Lee"])
    assert result.exit_code == 0, result.output
    assert "Created staff account jin.lee@example.org (Jin Lee)" in result.output
    [(email, name, is_active, password_hash)] = query(
        "SELECT email, name, is_active, password_hash FROM staff_users")
    assert (email, name, is_active) == ("jin.lee@example.org", "Jin Lee", True)
    assert check_password_hash(password_hash, "a long enough password")

    again = app.test_cli_runner().invoke(
        args=[*command, "jin.lee@example.org", "--name", "Jin Lee"])
    assert again.exit_code == 1
    assert "There is already a staff account for jin.lee@example.org" in again.output


def test_create_staff_refuses_a_short_password(app, query, monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", "eleven char")
    result = app.test_cli_runner().invoke(
        args=["create-staff", "jin.lee@example.org", "--name", "Jin Lee"])
    assert result.exit_code == 1
    assert "The password must be at least 12 characters." in result.output
    assert query("SELECT count(*) FROM staff_users") == [(0,)]


def test_create_staff_prompts_twice_for_the_password(app, query, monkeypatch):
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    result = app.test_cli_runner().invoke(
        args=["create-staff", "mi-rae@example.org", "--name", "Mi-rae Han"],
        input="typed password one\ntyped password one\n")
    assert result.exit_code == 0, result.output
    [(password_hash,)] = query("SELECT password_hash FROM staff_users")
    assert check_password_hash(password_hash, "typed password one")
