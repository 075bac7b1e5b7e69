from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from campaign.pages.cache import PageCaches


@pytest.fixture
def cached_pages(app: Flask) -> Iterator[None]:
    """Caches that keep what they load, as production's do (the other tests run with them
    off): what the fast path answers from."""
    saved = app.extensions["page_caches"]
    app.extensions["page_caches"] = PageCaches(page_seconds=60, count_seconds=60)
    yield
    app.extensions["page_caches"] = saved
