from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from campaign.auth.services import create_staff_user
from campaign.extensions import db
from tests.helpers import page_token
from tests.letters.conftest import letter_page, write_letters  # noqa: F401

PASSWORD = "correct horse battery staple"


def run_here(app: Flask, name: str, *args: object):
    """Runs a Celery task in this process, as a worker would, and returns its result."""
    with app.app_context():
        return app.extensions["celery"].tasks[name].apply(args=args)


def page_text(response) -> str:
    """The response body with HTML entities decoded, as a reader sees the words."""
    return html.unescape(response.get_data(as_text=True))


def signed_in(app: Flask, create_staff, email: str, is_admin: bool) -> FlaskClient:
    """A new client signed in as a new staff member (an admin or an editor)."""
    create_staff(email=email, is_admin=is_admin)
    client = app.test_client()
    response = client.post("/staff/login", data={
        "csrf_token": page_token(client, "/staff/login"), "email": email,
        "password": PASSWORD})
    assert response.status_code == 303
    return client


@pytest.fixture
def create_staff(app: Flask) -> Callable[..., int]:
    def create(email: str = "ana.staff@example.org", name: str = "Ana Staff",
               password: str = PASSWORD, is_active: bool = True, is_admin: bool = True) -> int:
        with app.app_context():
            user = create_staff_user(email, name=name, password=password, is_admin=is_admin)
            user.is_active = is_active
            db.session.commit()
            return user.id

    return create


@pytest.fixture
def log_in(client: FlaskClient) -> Callable:
    """Posts the sign-in form the way a browser does: the page first, then the form."""

    def post(email: str = "ana.staff@example.org", password: str = PASSWORD,
             next_url: str | None = None, **extra: str):
        url = "/staff/login" + (f"?next={quote(next_url, safe='')}" if next_url else "")
        token = page_token(client, "/staff/login")
        return client.post(url, data={"csrf_token": token, "email": email,
                                      "password": password, **extra})

    return post


@pytest.fixture
def staff_client(client: FlaskClient, create_staff, log_in) -> FlaskClient:
    """A client signed in as a staff member."""
    create_staff()
    response = log_in()
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


@pytest.fixture(autouse=True)
def forget_failed_sign_ins(request: pytest.FixtureRequest) -> Iterator[None]:
    """Failed sign-ins counted per account start afresh in each test. The root conftest's
    limiter.reset() clears them too, but only while the shared limiter's storage is this
    app's Redis: another test's create_app may have pointed it elsewhere."""
    yield
    if "app" in request.fixturenames:
        strategy = request.getfixturevalue("app").extensions.get("staff_sign_in_throttle")
        if strategy is not None:
            strategy.storage.reset()
