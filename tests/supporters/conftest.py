"""Signing on both backends: PostgreSQL, as in production, and SQLite, the embedded default
that every newcomer runs first (README, scripts/run.sh), whose writes take the portable
path of campaign.supporters.services rather than PostgreSQL's one statement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from flask import Flask
from flask.testing import FlaskClient

from campaign.extensions import db
from tests.conftest import outbox_mail, page_maker, sql_reader
from tests.helpers import csrf_token, valid_signature


@dataclass
class Site:
    backend: str
    app: Flask
    # Every email sent so far, oldest first, once the thank-yous that are due have gone.
    mail: Callable[[], list[EmailMessage]]
    create_page: Callable[..., str] = field(init=False)
    query: Callable[..., list] = field(init=False)

    def __post_init__(self) -> None:
        self.create_page = page_maker(self.app)
        self.query = sql_reader(self.app)

    def sign(self, slug: str, client: FlaskClient | None = None, **fields: str):
        """Posts the sign form as a browser does, in a browser of its own unless given one."""
        client = client or self.app.test_client()
        return client.post(f"/a/{slug}", data={"csrf_token": csrf_token(client, slug),
                                               **valid_signature(**fields)})


@pytest.fixture(params=["postgresql", "sqlite"])
def site(request: pytest.FixtureRequest) -> Site:
    if request.param == "sqlite":
        app = request.getfixturevalue("embedded_app")
        with app.app_context():
            assert db.engine.dialect.name == "sqlite"
        assert app.extensions["celery"].conf.task_always_eager
        # Thank-yous went in the signing request, right after its commit.
        return Site("sqlite", app, lambda: outbox_mail(app))
    app, smtp_sink = request.getfixturevalue("app"), request.getfixturevalue("smtp_sink")

    def mail() -> list[EmailMessage]:
        # No worker in these tests: the drain runs here, as a worker would run it.
        with app.app_context():
            app.extensions["celery"].tasks["supporters.send_thank_yous"].apply()
        return [received.message for received in smtp_sink.received]

    return Site("postgresql", app, mail)
