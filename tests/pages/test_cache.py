"""The per-process page cache: bounded staleness, bounded size."""

from __future__ import annotations

from campaign.pages.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_values_are_reloaded_after_the_ttl():
    clock, loads = Clock(), []
    cache = TTLCache(2.0, clock=clock)

    def load():
        loads.append(clock.now)
        return len(loads)

    assert cache.get_or_load("a", load) == 1
    clock.now = 1.9
    assert cache.get_or_load("a", load) == 1
    clock.now = 2.0
    assert cache.get_or_load("a", load) == 2
    assert loads == [0.0, 2.0]


def test_misses_are_not_kept_and_size_is_bounded():
    cache = TTLCache(60.0, max_entries=3, clock=Clock())
    for slug in ("made-up-1", "made-up-2"):
        assert cache.get_or_load(slug, lambda: None) is None
    assert len(cache._entries) == 0
    for n in range(10):
        cache.get_or_load(n, lambda n=n: n)
    assert list(cache._entries) == [7, 8, 9]
