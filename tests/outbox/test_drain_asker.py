"""A process's web requests ask for drain runs through its DrainAsker: soon, and once for
many requests."""

from __future__ import annotations

import threading
import time

from campaign.outbox import DRAIN_ASK_SECONDS, request_soon


def redis_sets(app) -> int:
    """SET commands the Redis server has run so far (the ask is one SET NX)."""
    stats = app.extensions["redis"].info("commandstats")
    return stats.get("cmdstat_set", {}).get("calls", 0)


def test_a_burst_of_requests_asks_for_a_run_a_few_times_not_once_each(app):
    before = redis_sets(app)
    start = threading.Barrier(8)

    def requests() -> None:
        start.wait()
        for _ in range(25):
            with app.test_request_context("/a/page", method="POST"):
                request_soon("supporters.send_thank_yous")

    threads = [threading.Thread(target=requests) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    app.extensions["drain_asker"].flush()

    # 200 requests within a few periods: an ask per period, not one per request.
    assert 1 <= redis_sets(app) - before <= 10


def test_a_single_request_in_a_lull_is_asked_for_within_the_period(app):
    app.extensions["drain_asker"].flush()
    before = redis_sets(app)
    with app.test_request_context("/a/page", method="POST"):
        request_soon("supporters.send_thank_yous")
    deadline = time.monotonic() + 20 * DRAIN_ASK_SECONDS
    while redis_sets(app) == before and time.monotonic() < deadline:
        time.sleep(DRAIN_ASK_SECONDS / 5)
    # Made by the asker's own thread: nobody called flush().
    assert redis_sets(app) - before == 1
