"""Per-process caches that keep a busy action page off the database.

Each gunicorn worker holds its own copy; staleness is bounded by the TTLs in config
(a page edit shows within PAGE_CACHE_SECONDS, a signature within COUNT_CACHE_SECONDS).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Generic, TypeVar

from sqlalchemy import Engine

from campaign.common.sql import upsert_insert
from campaign.pages.models import PageViewCount

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Keeps values for `ttl_seconds`. Misses (None) are not kept, and the oldest entries
    go first past `max_entries`, so requests for made-up slugs cannot grow it.

    When a value expires, one thread loads it again while the others go on with the
    expired value: on a busy page every thread would otherwise reload it at once, and the
    requests queued behind those reloads make up the slowest percent of page views.
    An expired value is handed out only while its reload runs.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 1024,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._reloading: set[K] = set()
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V | None]) -> V | None:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        if entry is not None:
            with self._lock:
                if key in self._reloading:
                    return entry[1]
                self._reloading.add(key)
        try:
            value = load()
            if self.ttl > 0 and value is not None:
                self._entries.pop(key, None)
                if len(self._entries) >= self.max_entries:
                    del self._entries[next(iter(self._entries))]  # dicts keep insertion order
                self._entries[key] = (now, value)
            elif entry is not None:
                self._entries.pop(key, None)  # gone (a page unpublished): forget it
        finally:
            if entry is not None:
                self._reloading.discard(key)
        return value

    def peek(self, key: K) -> V | None:
        """The value if it is fresh, or expired while its reload runs; never loads."""
        entry = self._entries.get(key)
        if entry is not None and (self._clock() - entry[0] < self.ttl
                                  or key in self._reloading):
            return entry[1]
        return None

    def clear(self) -> None:
        self._entries.clear()


class ViewCounter:
    """Counts page views in memory and adds them to `page_view_counts` in batches.

    Only (page, day, source) is kept: never an address, a cookie or a supporter id. A
    process killed between flushes loses at most VIEW_FLUSH_SECONDS of view counts.
    """

    def __init__(self, engine_getter: Callable[[], Engine], flush_seconds: float):
        self._engine_getter = engine_getter
        self.flush_seconds = flush_seconds
        self._counts: Counter[tuple[int, date, str]] = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def add(self, page_id: int, day: date, source: str) -> None:
        with self._lock:
            self._counts[(page_id, day, source)] += 1
            due = time.monotonic() - self._last_flush >= self.flush_seconds
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._last_flush = time.monotonic()
        if not counts:
            return
        engine = self._engine_getter()
        insert = upsert_insert(engine.dialect.name)
        rows = [{"action_page_id": page_id, "day": day, "source": source, "views": n}
                for (page_id, day, source), n in counts.items()]
        statement = insert(PageViewCount).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["action_page_id", "day", "source"],
            set_={"views": PageViewCount.views + statement.excluded.views},
        )
        with engine.begin() as connection:
            connection.execute(statement)


class PageCaches:
    def __init__(self, page_seconds: float, count_seconds: float):
        self.pages: TTLCache = TTLCache(page_seconds)
        self.counts: TTLCache = TTLCache(count_seconds)
        # Rendered pages show both, so they are kept no longer than either.
        self.rendered: TTLCache = TTLCache(min(page_seconds, count_seconds))

    @classmethod
    def from_config(cls, config: dict) -> PageCaches:
        return cls(config["PAGE_CACHE_SECONDS"], config["COUNT_CACHE_SECONDS"])

    def clear(self) -> None:
        self.pages.clear()
        self.counts.clear()
        self.rendered.clear()
