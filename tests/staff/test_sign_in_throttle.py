"""Failed sign-ins are throttled per account, wherever the guesses come from, and per
address; the per-address limit counts only passwords found wrong, so those who sign in
right through a shared address don't use it up."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from limits import parse_many

from campaign.auth.throttle import AccountThrottle, account_key
from campaign.auth.views import LOGIN_FAILED
from tests.helpers import CSRF_PATTERN
from tests.staff.conftest import PASSWORD, page_text, page_token
from tests.staff.test_accounts import change_password

WRONG = "a wrong guess at the password"
PAUSED = "Too many wrong passwords have been given for this email address"


@pytest.fixture
def limits(app, monkeypatch):
    """Small limits for the test: per account, and per address (high unless asked)."""

    def set_limits(account: str = "3/minute", address: str = "1000/minute") -> None:
        monkeypatch.setitem(app.config, "STAFF_LOGIN_ACCOUNT_RATE_LIMIT", account)
        monkeypatch.setitem(app.config, "STAFF_LOGIN_RATE_LIMIT", address)

    return set_limits


def sign_in_from(client: FlaskClient, address: str, email: str = "ana.staff@example.org",
                 password: str = PASSWORD, token: str | None = None):
    token = page_token(client, "/staff/login") if token is None else token
    return client.post("/staff/login", data={"csrf_token": token, "email": email,
                                              "password": password},
                       environ_overrides={"REMOTE_ADDR": address})


def sign_out_from(client: FlaskClient, address: str) -> None:
    # The same address throughout: a session moved to another one is dropped.
    here = {"REMOTE_ADDR": address}
    page = client.get("/staff/", environ_overrides=here)
    assert page.status_code == 200
    token = CSRF_PATTERN.search(page.get_data(as_text=True)).group(1)
    assert client.post("/staff/logout", data={"csrf_token": token},
                       environ_overrides=here).status_code == 303


def test_guesses_at_one_account_from_many_addresses_pause_its_sign_in(client, create_staff,
                                                                      limits):
    create_staff()
    create_staff(email="min-ji@example.org", name="Min-ji")
    limits(account="3/minute")
    for n in range(3):
        assert sign_in_from(client, f"198.51.100.{n}", password=WRONG).status_code == 401
    # The right password, from an address never seen, waits too.
    paused = sign_in_from(client, "203.0.113.9")
    assert paused.status_code == 429
    assert PAUSED in page_text(paused)
    assert "Please try again in 1 minute." in page_text(paused)
    assert client.get("/staff/").status_code == 302
    # Another account signs in from the very address the guesses came from.
    assert sign_in_from(client, "198.51.100.0", email="min-ji@example.org").status_code == 303


def test_the_pause_says_how_long_it_lasts(client, create_staff, limits):
    create_staff()
    limits(account="2/hour")
    for _ in range(2):
        assert sign_in_from(client, "198.51.100.1", password=WRONG).status_code == 401
    paused = sign_in_from(client, "198.51.100.1")
    assert paused.status_code == 429
    text = page_text(paused)
    assert PAUSED in text
    minutes = int(text.split("Please try again in ")[1].split(" minute")[0])
    assert 1 <= minutes <= 60


def test_emails_without_an_account_are_paused_alike(client, create_staff, limits):
    create_staff()
    limits(account="2/minute")
    for email in ("nobody@example.org", "ana.staff@example.org"):
        for _ in range(2):
            assert sign_in_from(client, "198.51.100.1", email=email,
                                password=WRONG).status_code == 401
    unknown = sign_in_from(client, "198.51.100.1", email="nobody@example.org")
    known = sign_in_from(client, "198.51.100.1")
    assert unknown.status_code == known.status_code == 429
    assert page_text(unknown).replace("nobody@example.org", "X").split("<form")[0] == \
        page_text(known).replace("ana.staff@example.org", "X").split("<form")[0]


def test_the_account_is_counted_however_its_email_is_typed(client, create_staff, limits):
    create_staff()
    limits(account="2/minute")
    sign_in_from(client, "198.51.100.1", email="ANA.Staff@Example.org", password=WRONG)
    sign_in_from(client, "198.51.100.2", email=" ana.staff@example.org ", password=WRONG)
    assert sign_in_from(client, "198.51.100.3").status_code == 429


def test_a_right_password_forgets_the_earlier_mistakes(client, create_staff, limits):
    create_staff()
    limits(account="3/minute")
    for _ in range(2):
        assert sign_in_from(client, "198.51.100.1", password=WRONG).status_code == 401
    assert sign_in_from(client, "198.51.100.1").status_code == 303
    sign_out_from(client, "198.51.100.1")
    for _ in range(2):
        assert sign_in_from(client, "198.51.100.1", password=WRONG).status_code == 401
    assert sign_in_from(client, "198.51.100.1").status_code == 303


def test_wrong_current_passwords_on_the_account_page_count_against_the_account(
        app, staff_client, limits):
    limits(account="2/minute")
    for _ in range(2):
        assert change_password(staff_client, current=WRONG).status_code == 400
    paused = change_password(staff_client)
    assert paused.status_code == 429
    assert PAUSED in page_text(paused)
    # ... and sign-ins from anywhere else wait as well.
    assert sign_in_from(app.test_client(), "203.0.113.9").status_code == 429


def test_redis_holds_a_keyed_hash_of_the_email_never_the_email(app, client, create_staff,
                                                              limits):
    create_staff()
    limits(account="3/minute")
    sign_in_from(client, "198.51.100.1", password=WRONG)
    keys = [key.decode() for key in app.extensions["redis"].scan_iter("*")]
    assert not [key for key in keys if "ana.staff" in key or "example.org" in key]
    hashed = account_key("ana.staff@example.org", app.config["SECRET_KEY"])
    assert [key for key in keys if hashed in key]
    assert account_key("ana.staff@example.org", "another secret key") != hashed


def test_the_per_address_limit_counts_only_wrong_passwords(client, create_staff, limits):
    create_staff()
    limits(account="1000/minute", address="2/minute")
    address = "198.51.100.7"
    # Forms that never reached a password check: no token, no password, a bad token.
    assert client.post("/staff/login", data={"email": "ana.staff@example.org",
                                             "password": PASSWORD},
                       environ_overrides={"REMOTE_ADDR": address}).status_code == 400
    for _ in range(2):
        assert sign_in_from(client, address, password="").status_code == 400
        assert sign_in_from(client, address, token="not a token").status_code == 400
    # Staff who sign in right through the same address.
    for _ in range(3):
        assert sign_in_from(client, address).status_code == 303
        sign_out_from(client, address)
    assert sign_in_from(client, address, password=WRONG).status_code == 401
    assert sign_in_from(client, address, password=WRONG).status_code == 401
    blocked = sign_in_from(client, address)
    assert blocked.status_code == 429
    assert "Too many requests" in page_text(blocked)
    # Another address is not held back.
    assert sign_in_from(client, "198.51.100.8").status_code == 303


def test_a_right_password_after_a_mistake_still_signs_in(client, create_staff, limits):
    create_staff()
    limits(account="3/minute", address="3/minute")
    response = sign_in_from(client, "198.51.100.1", password=WRONG)
    assert response.status_code == 401
    assert LOGIN_FAILED in page_text(response)
    assert sign_in_from(client, "198.51.100.1").status_code == 303


def test_failed_sign_ins_are_counted_in_memory_while_redis_is_down(app, redis_server):
    if redis_server is None:
        pytest.skip("TEST_REDIS_URL names a Redis server these tests may not stop")
    throttle = AccountThrottle.for_app(app)
    throttle.items = parse_many("2/minute")
    email = "redis.down@example.org"
    redis_server.stop()
    try:
        assert throttle.seconds_to_wait(email) is None
        throttle.record_failure(email)
        assert throttle.seconds_to_wait(email) is None
        throttle.record_failure(email)
        assert throttle.seconds_to_wait(email) is not None
    finally:
        redis_server.start()
    # Redis is asked again once it is back (and holds no failures for this email).
    assert throttle.seconds_to_wait(email) is None
