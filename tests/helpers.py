"""Small helpers the tests share."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from flask.testing import FlaskClient

CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, slug: str) -> str:
    page = client.get(f"/a/{slug}")
    assert page.status_code == 200, page.status_code
    return CSRF_PATTERN.search(page.get_data(as_text=True)).group(1)


def page_token(client: FlaskClient, url: str) -> str:
    """The CSRF token from a form on the page at `url`, as a browser would submit it."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return CSRF_PATTERN.search(response.get_data(as_text=True)).group(1)


def valid_signature(**fields: str) -> dict:
    data = {"first_name": "Ji-woo", "last_name": "Park", "email": "ji-woo@example.org",
            "postal_code": "10001", "country": "US"}
    data.update(fields)
    return data


def wait_until(predicate: Callable[[], object], timeout: float = 30.0,
               message: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {message}")


def claim_while_another_holds_its_claim(app, claim: Callable[[int], list[int]],
                                        first_limit: int, second_limit: int
                                        ) -> tuple[list[int], list[int]]:
    """Two workers claiming at once: a thread claims `first_limit` rows and keeps its
    transaction (and row locks) open while this thread claims `second_limit`."""
    import threading

    from campaign.extensions import db

    first_claimed, first_may_commit = threading.Event(), threading.Event()
    first: list[int] = []

    def first_worker():
        with app.app_context():
            first.extend(claim(first_limit))
            first_claimed.set()
            first_may_commit.wait(10)
            db.session.commit()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert first_claimed.wait(10)
        with app.app_context():
            second = claim(second_limit)
            db.session.commit()
    finally:
        first_may_commit.set()
        thread.join(10)
    return first, second


def backend_pid() -> int:
    """The PostgreSQL backend the app's session is on (one-connection tests assert it never
    changes: the pool did not quietly open another connection)."""
    from sqlalchemy import text

    from campaign.extensions import db

    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.commit()
    return pid


def prepared_statements() -> int:
    """How many statements psycopg prepared on this connection (after five runs of one)."""
    from sqlalchemy import text

    from campaign.extensions import db

    return db.session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
