"""The backoff every retrying task uses (each task keeps its own base and cap beside it),
and the reason a failed send records."""

from __future__ import annotations

import random

from campaign.common.errors import describe_error
from campaign.mail.transport import MailError


def jittered_backoff(retries: int, *, base: float, cap: float) -> float:
    """Seconds before retry number `retries + 1`: base x 2^retries, capped, then scaled by a
    random factor between 0.5 and 1 so that many tasks failing together (a mail server
    down for an hour) do not all come back at the same moment."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2 ** retries)


def failure_reason(exc: Exception) -> str:
    """What a failed send records: a mail server's answer as it gave it (MailError has
    taken the addresses out), anything unforeseen as its kind and first line."""
    return str(exc) if isinstance(exc, MailError) else describe_error(exc)
