"""Fixtures of the ledger's tests: the app served over HTTP for the local Stripe server's
webhooks, and a page to give on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.servers import served


@pytest.fixture(scope="module")
def served_app(app: Flask) -> Iterator[str]:
    """The app served from a thread; yields its origin."""
    with served(app) as origin:
        yield origin


# The local server posts each event about a second after the call that caused it, to
# whatever is registered then: a test waits that long before registering and after
# unregistering, so no other test's late events land in it.
LATE_DELIVERY_SECONDS = 1.5


@pytest.fixture
def webhook_origin(served_app: str, local_stripe) -> Iterator[str]:
    """The served app, with the local Stripe server's webhooks sent to it for one test."""
    time.sleep(LATE_DELIVERY_SECONDS)
    local_stripe.send_webhooks_to(f"{served_app}/stripe/webhook")
    yield served_app
    local_stripe.send_webhooks_to(None)
    time.sleep(LATE_DELIVERY_SECONDS)


@pytest.fixture
def gift_page(create_page) -> str:
    return create_page(slug="give-now", title="Give now")


@pytest.fixture
def wait_for_events(query) -> Callable[..., list[str]]:
    """Waits until events of `types` naming `object_id` have arrived; returns all their ids."""

    def wait(object_id: str, *types: str, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            rows = query("SELECT id, type FROM stripe_events WHERE payload LIKE :like",
                         like=f"%{object_id}%")
            if set(types) <= {event_type for _, event_type in rows}:
                return [event_id for event_id, _ in rows]
            assert time.monotonic() < deadline, (types, rows)
            time.sleep(0.2)

    return wait
