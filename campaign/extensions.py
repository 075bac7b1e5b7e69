"""Extension instances, unbound until `create_app` calls their `init_app`."""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import logging
import os
import threading
import time

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
        "imports": ["workers.supporters", "workers.letters"],
        "beat_schedule": {
            "sweep-thank-yous": {"task": "supporters.sweep_thank_yous",
                                 "schedule": SWEEP_EVERY_SECONDS},
            "sweep-letters": {"task": "letters.sweep", "schedule": SWEEP_EVERY_SECONDS},
            "send-letter-digests": {"task": "letters.send_digests",
                                    "schedule": app.config["DIGEST_EVERY_SECONDS"]},
        },
    }


def enqueue(task: Task, *args: object, countdown: float | None = None) -> None:
    """Queues `task` on the current Flask app's own Celery app.

    `shared_task` would pick whichever Celery app was made last; a process holding two
    Flask apps (tests, scripts) must not send one app's work to the other's broker.
    """
    from flask import current_app

    current_app.extensions["celery"].tasks[task.name].apply_async(args, countdown=countdown)


SWEEP_EVERY_SECONDS = 60.0

# A requested drain stays requested this long at most: if its message was lost (a worker
# killed before it started it), the next commit asks again after this.
DRAIN_REQUEST_SECONDS = 30


def _drain_flag(task: Task) -> str:
    from flask import current_app

    return f"{current_app.config['CELERY_QUEUE']}:drain-requested:{task.name}"


def request_drain(task: Task) -> None:
    """Asks for a run of `task`, a task that works through every row that is due for it.

    Called after the commit that made rows due. At most one run waits in the queue: a
    flag in Redis is set when a run is queued and cleared when the run starts, so a busy
    page costs a Redis SET per ask (web requests ask through request_drain_soon, at most
    20 times a second per process), not a Celery message, and workers take rows in
    batches. The rows are the record of what is due; if Redis is down they wait for the
    task's periodic sweep.
    """
    from flask import current_app
    from kombu.exceptions import KombuError
    from redis.exceptions import RedisError

    if current_app.extensions["celery"].conf.task_always_eager:
        enqueue(task)  # the embedded default: run now, in this process
        return
    flag = _drain_flag(task)
    redis_client = current_app.extensions["redis"]
    try:
        if redis_client.set(flag, b"1", nx=True, ex=DRAIN_REQUEST_SECONDS):
            try:
                enqueue(task)
            except BaseException:
                redis_client.delete(flag)  # the run was not queued: let the next one ask
                raise
    except (KombuError, RedisError, OSError):
        logging.getLogger(__name__).warning("broker unavailable; %s left for the sweep",
                                            task.name)


# A web request's ask for a run is made by its process's DrainAsker within this long.
DRAIN_ASK_SECONDS = 0.05


def request_drain_soon(task: Task) -> None:
    """request_drain, for a web request: the ask is made within DRAIN_ASK_SECONDS by this
    process's DrainAsker, once for every request of that time.

    The ask still comes after the request's commit, which is all the drain protocol
    needs; the request saves its Redis round trip (7 % of a signature's instructions,
    bench/instructions.py). A process killed in between leaves its rows to the periodic sweep, as a
    lost run message would.
    """
    from flask import current_app

    current_app.extensions["drain_asker"].ask(task)


class DrainAsker:
    """Asks for drain runs on behalf of one app's web requests, from a thread of its own,
    at most once per `period` for each task."""

    def __init__(self, app: Flask, period: float = DRAIN_ASK_SECONDS):
        self.app = app
        self.period = period
        self.eager = app.extensions["celery"].conf.task_always_eager
        self._due: dict[str, Task] = {}
        self._lock = threading.Lock()  # guards _due and _pid
        self._flushing = threading.Lock()  # held through a flush: flush() waits for one
        self._wake = threading.Event()
        self._pid: int | None = None  # the process whose thread is running
        atexit.register(self.flush)  # a worker's graceful stop asks for what it owes

    def ask(self, task: Task) -> None:
        if self.eager:  # the embedded default: run now, in this request
            request_drain(task)
            return
        with self._lock:
            self._due[task.name] = task
            # Started on the first ask in each process: a thread does not survive the
            # fork of a gunicorn worker from a master that loaded the app (--preload).
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="drain-asker", daemon=True).start()
        if not self._wake.is_set():  # set() takes a lock and notifies: most asks skip it
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self.flush()
            time.sleep(self.period)  # asks made meanwhile wait for the next flush

    def flush(self) -> None:
        """Makes the asks that are due now; returns when no ask is being made."""
        with self._flushing:
            with self._lock:
                due, self._due = self._due, {}
            if not due:
                return
            try:
                with self.app.app_context():
                    for task in due.values():
                        request_drain(task)
            except Exception:  # the thread must outlive any failure; the sweep covers it
                logging.getLogger(__name__).exception("could not ask for %s", ", ".join(due))


def request_drain_in(task: Task, seconds: float) -> None:
    """Asks for a run of `task` in `seconds` (a retry's backoff, a wait under a cap).

    Only when that is sooner than the next sweep, which asks anyway when rows are due: a
    countdown message waits unacknowledged in a worker, and one longer than the broker's
    visibility timeout would be delivered again and again.
    """
    from flask import current_app

    if (seconds < SWEEP_EVERY_SECONDS
            and not current_app.extensions["celery"].conf.task_always_eager):
        enqueue(task, countdown=max(1.0, seconds))


def drain_started(task: Task) -> None:
    """Called first by a drain task: rows made due from now on need another run."""
    from flask import current_app

    if not current_app.extensions["celery"].conf.task_always_eager:
        current_app.extensions["redis"].delete(_drain_flag(task))


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
    return celery_app
