"""Retry backoff: doubling, capped, jittered downwards only."""

from __future__ import annotations

from workers.retry import jittered_backoff


def test_backoff_doubles_within_its_jitter_and_stops_at_the_cap():
    for retries, low, high in ((0, 5, 10), (1, 10, 20), (3, 40, 80), (10, 300, 600)):
        delays = [jittered_backoff(retries, base=10, cap=600) for _ in range(200)]
        assert all(low <= delay <= high for delay in delays), (retries, min(delays))
        assert max(delays) - min(delays) > (high - low) / 4  # really jittered
