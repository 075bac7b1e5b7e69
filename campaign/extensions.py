"""Extension instances, unbound until `create_app` calls their `init_app`."""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib

from celery import Celery, Task
from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from campaign import outbox
from campaign.outbox import enqueue  # noqa: F401  (bench/ and scripts queue through it)

# Stable constraint names, so Alembic migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


class WritesOnlyLimiter(Limiter):
    """Flask-Limiter, checked where a view declares a limit, on requests that write.

    Every limit here is declared on a POST view (there are no default or application-wide
    limits), yet the extension's before-request pass resolves and evaluates limits on
    every request, GETs on exempt routes included: 15% of a page view's CPU and 9% of a
    signature's (profiled). `_check_request_limit` is what its hook (`in_middleware`) and
    its decorators both call. It is private: pyproject.toml pins Flask-Limiter to the
    releases read to have it with these arguments (3.8 to 4.1), and
    tests/deploy/test_writes_only_limiter.py fails if an upgrade changes it.
    """

    def _check_request_limit(self, callable_name: str | None = None,
                             in_middleware: bool = True) -> None:
        if not in_middleware and request.method not in ("GET", "HEAD", "OPTIONS"):
            super()._check_request_limit(callable_name, in_middleware)


@functools.lru_cache(maxsize=4)
def _address_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"rate-limit-address:" + secret_key.encode()).digest()


def hashed_remote_address() -> str:
    """The client's address as limits see it: an HMAC keyed by SECRET_KEY, so Redis, which
    keeps each key for the limit's window, never holds a supporter's IP address."""
    from flask import current_app

    address = (get_remote_address() or "").encode()
    return hmac.new(_address_key(current_app.secret_key), address, "sha256").hexdigest()[:32]


# No X-RateLimit headers: they cost two more Redis round trips on every limited request.
limiter = WritesOnlyLimiter(key_func=hashed_remote_address, default_limits=[],
                            headers_enabled=False)
login_manager = LoginManager()
# A session cookie replayed from another address or browser is dropped, not honoured.
login_manager.session_protection = "strong"
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see staff pages."
login_manager.login_message_category = "info"


def celery_config(app: Flask) -> dict:
    redis_url = app.config.get("REDIS_URL")
    return {
        "broker_url": redis_url or "memory://",
        # Without Redis (the embedded default) tasks run in-process, right after commit.
        "task_always_eager": redis_url is None,
        # In-process mode: a mail failure must not turn a recorded signature into an
        # error page; the row stays pending and the sweep finds it again.
        "task_eager_propagates": False,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        # A task is acknowledged after it ran, and re-delivered when its worker died.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 4,
        "broker_connection_retry_on_startup": True,
        # Publishing must fail fast when Redis is down: the row is committed already and
        # the sweep re-queues it, so the supporter need not wait on the broker.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0.1,
                                      "interval_step": 0.2, "interval_max": 0.5},
        "broker_transport_options": {"visibility_timeout": 3600,
                                     "socket_connect_timeout": 2, "socket_timeout": 5},
        "task_default_queue": app.config["CELERY_QUEUE"],
        # Each domain registers its drains, their sweeps and their task modules.
        "imports": outbox.registry.task_modules(),
        "beat_schedule": outbox.registry.beat_schedule(app.config),
    }


def celery_init_app(app: Flask) -> Celery:
    """Flask's Celery pattern: every task runs inside an application context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(app))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    # The web process asks for runs by name: the tasks must be known here too.
    for module in outbox.registry.task_modules():
        importlib.import_module(module)
    return celery_app
