"""The backoff every retrying task uses; each task keeps its own base and cap beside it."""

from __future__ import annotations

import random


def jittered_backoff(retries: int, *, base: float, cap: float) -> float:
    """Seconds before retry number `retries + 1`: base x 2^retries, capped, then scaled by a
    random factor between 0.5 and 1 so that many tasks failing together (a mail server
    down for an hour) do not all come back at the same moment."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2 ** retries)
