"""Failed staff sign-ins counted per account, wherever they come from.

The per-address limit (STAFF_LOGIN_RATE_LIMIT) cannot see guesses spread over many
addresses, and behind a shared address it would be the only brake. This one counts, for
each email typed, the sign-ins that failed, in the rate limiter's storage (Redis, keys
of its own beside the limiter's), under a keyed hash of the email: Redis never holds a
staff member's address. Emails without an account are counted the same way, so a pause
says nothing about who has one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from campaign.common.text import normalise_email

SCOPE = "staff-sign-in-account"

# While Redis is down, counts are kept in this process, as Flask-Limiter's own fallback
# does for the per-address limit; Redis is asked again on the next attempt.
_memory = FixedWindowRateLimiter(MemoryStorage())

T = TypeVar("T")


def account_key(email: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), normalise_email(email).encode("utf-8", "replace"),
                    hashlib.sha256).hexdigest()[:32]


class AccountThrottle:
    def __init__(self, strategy: RateLimiter, limits: str, secret_key: str,
                 key_prefix: str = ""):
        self.strategy = strategy
        self.items: list[RateLimitItem] = parse_many(limits)
        self.secret_key = secret_key
        self.key_prefix = key_prefix

    @classmethod
    def for_app(cls, app: Flask) -> AccountThrottle:
        config = app.config
        return cls(_app_strategy(app), config["STAFF_LOGIN_ACCOUNT_RATE_LIMIT"],
                   config["SECRET_KEY"], config.get("RATELIMIT_KEY_PREFIX") or "")

    def _identifiers(self, email: str) -> tuple[str, ...]:
        return (self.key_prefix, SCOPE, account_key(email, self.secret_key))

    def seconds_to_wait(self, email: str) -> int | None:
        """None while sign-ins for `email` may go ahead; else how long the pause lasts."""
        ids = self._identifiers(email)

        def check(strategy: RateLimiter) -> int | None:
            breached = [strategy.get_window_stats(item, *ids).reset_time
                        for item in self.items if not strategy.test(item, *ids)]
            return max(1, math.ceil(max(breached) - time.time())) if breached else None

        return self._with_storage(check)

    def record_failure(self, email: str) -> None:
        ids = self._identifiers(email)
        self._with_storage(lambda strategy: [strategy.hit(item, *ids) for item in self.items])

    def clear(self, email: str) -> None:
        """A right password forgets the account's earlier mistakes."""
        ids = self._identifiers(email)
        self._with_storage(
            lambda strategy: [strategy.clear(item, *ids) for item in self.items])

    def _with_storage(self, operation: Callable[[RateLimiter], T]) -> T:
        base = self.strategy.storage.base_exceptions
        errors = (StorageError, *(base if isinstance(base, tuple) else (base,)))
        try:
            return operation(self.strategy)
        except errors:
            logging.getLogger(__name__).warning(
                "rate limit storage unavailable; counting failed staff sign-ins in memory")
            return operation(_memory)


def _app_strategy(app: Flask) -> RateLimiter:
    """One per app, on the storage its rate limiter was given (create_app sets it)."""
    strategy = app.extensions.get("staff_sign_in_throttle")
    if strategy is None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        # As the app's own Redis client: a Redis that stopped answering must not hang
        # a sign-in; the in-memory count takes over.
        options = {"socket_connect_timeout": 2, "socket_timeout": 5} \
            if uri.startswith(("redis://", "rediss://")) else {}
        storage = storage_from_string(
            uri, **{**options, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})})
        strategy = app.extensions.setdefault("staff_sign_in_throttle",
                                             FixedWindowRateLimiter(storage))
    return strategy
