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
