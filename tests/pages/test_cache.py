"""The per-process page cache: bounded staleness, bounded size."""

from __future__ import annotations

import threading

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


def test_one_thread_reloads_an_expired_value_while_the_others_keep_the_old_one():
    clock = Clock()
    cache = TTLCache(1.0, clock=clock)
    cache.get_or_load("page", lambda: "old")
    clock.now = 1.5
    assert cache.peek("page") is None  # expired, and nobody is reloading it
    reload_started, reload_may_finish = threading.Event(), threading.Event()
    loads = []

    def slow_load():
        loads.append("slow")
        reload_started.set()
        reload_may_finish.wait(10)
        return "new"

    reloader = threading.Thread(target=cache.get_or_load, args=("page", slow_load))
    reloader.start()
    assert reload_started.wait(10)
    assert cache.get_or_load("page", lambda: loads.append("again") or "other") == "old"
    assert cache.peek("page") == "old"
    reload_may_finish.set()
    reloader.join(10)
    assert loads == ["slow"]  # the second caller did not load it again
    assert cache.peek("page") == "new"
    clock.now = 3.0
    assert cache.peek("page") is None  # the old value is never kept past its reload
