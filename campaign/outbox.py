"""The outbox protocol: how a row that must cause exactly one email gets it sent.

Every domain that sends mail "exactly once" (thank-yous, letters, digests, and later
receipts and mailings) follows the same rules, and registers here instead of editing the
ground floor. Its contract tests are tests/outbox/test_contract.py, run over every drain
registered here.

The rules
- The row carries its delivery state (due, sending with a claim time, sent, failed) and an
  idempotency key stored in the database; the rows alone say what is due.
- A *drain* is a task that works through every due row. It claims a batch with
  `SELECT ... FOR UPDATE SKIP LOCKED` (two workers never take the same row, and neither
  waits on the other) and commits the claim before it sends anything.
- Each message is recorded as sent (and committed) right after the mail server accepted
  it. A worker killed at any moment therefore sends again at most the one message it was
  sending: at most one duplicate per worker process, never a lost message.
- A claim expires after the drain's claim-expiry setting (e.g.
  LETTER_CLAIM_EXPIRES_SECONDS). A live worker renews the claims of its batch's unsent
  rows every third of that expiry, so a slow mail server does not make the sweep hand its
  rows to another worker.
- A *sweep* makes rows whose claim expired due again and asks for a drain run when rows
  are due. Beat runs every sweep every SWEEP_EVERY_SECONDS; each worker asks for every
  sweep as it starts, and once more when the claims of a worker killed just before it
  have expired (workers/celery.py). A lost Redis message or a dead worker thus delays a
  row, never loses it.
- A transient failure gives the row back with a backoff; a permanent one (or too many
  tries) takes the drain's failure path (a thank-you is failed, a letter goes into its
  target's fallback batch, a digest's letters too).
- Asking for a run: `request_run(name)` after the commit that made rows due. A Redis flag
  ("run requested") keeps at most one run waiting in the queue; the run clears it as it
  starts (`run_started`), so rows made due from then on ask again. Web requests ask
  through `request_soon(name)`, which this process's DrainAsker turns into one ask per
  DRAIN_ASK_SECONDS for many requests.
- `request_in(name, seconds)` (a retry's backoff, a wait under a cap) queues a countdown
  only when it is shorter than the sweep interval: the sweep asks anyway, and a countdown
  message longer than the broker's visibility timeout would be delivered again and again.
- Without Redis (the embedded default) every ask runs the drain in-process, at once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from celery import Task
from flask import Flask, current_app

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 60.0

# A requested run stays requested this long at most: if its message was lost (a worker
# killed before it started it), the next commit asks again after this.
DRAIN_REQUEST_SECONDS = 30

# A web request's ask for a run is made by its process's DrainAsker within this long.
DRAIN_ASK_SECONDS = 0.05


@dataclass(frozen=True)
class Drain:
    """A task that sends what is due, and how the ground floor looks after it."""

    name: str  # the drain task's name, `<domain>.<verb>`
    task_module: str  # the module a worker imports to know the task
    claim_expiry_setting: str  # the config key of its claim expiry, in seconds
    sweep: str  # the task that finds what the drain left behind
    sweep_beat_key: str | None = None  # beat's entry for the sweep (once per sweep)
    oldest_due_since: Callable[[], datetime | None] | None = None  # for /healthz


@dataclass(frozen=True)
class Periodic:
    """A task beat runs on its own cadence (an office's digest)."""

    key: str
    task: str
    task_module: str
    every_setting: str  # the config key of its interval, in seconds


@dataclass
class Registry:
    drains: dict[str, Drain] = field(default_factory=dict)
    periodic: dict[str, Periodic] = field(default_factory=dict)

    def task_modules(self) -> list[str]:
        modules = [drain.task_module for drain in self.drains.values()]
        modules += [entry.task_module for entry in self.periodic.values()]
        return list(dict.fromkeys(modules))

    def beat_schedule(self, config: dict) -> dict:
        schedule = {drain.sweep_beat_key: {"task": drain.sweep, "schedule": SWEEP_EVERY_SECONDS}
                    for drain in self.drains.values() if drain.sweep_beat_key}
        for entry in self.periodic.values():
            schedule[entry.key] = {"task": entry.task,
                                   "schedule": config[entry.every_setting]}
        return schedule

    def sweeps(self) -> list[str]:
        return list(dict.fromkeys(drain.sweep for drain in self.drains.values()))

    def longest_claim_expiry(self, config: dict) -> float:
        return max((config[drain.claim_expiry_setting] for drain in self.drains.values()),
                   default=0.0)

    def backlogs(self) -> dict[str, Callable[[], datetime | None]]:
        return {drain.name: drain.oldest_due_since for drain in self.drains.values()
                if drain.oldest_due_since is not None}


registry = Registry()


def register(drain: Drain) -> Drain:
    """Called by a domain's drains.py at import; registering a name twice is harmless."""
    registry.drains[drain.name] = drain
    return drain


def register_periodic(entry: Periodic) -> Periodic:
    registry.periodic[entry.key] = entry
    return entry


def enqueue(task: Task | str, *args: object, countdown: float | None = None) -> None:
    """Queues `task` (or the task of that name) on the current Flask app's Celery app.

    `shared_task` would pick whichever Celery app was made last; a process holding two
    Flask apps (tests, scripts) must not send one app's work to the other's broker.
    """
    current_app.extensions["celery"].tasks[_name(task)].apply_async(args, countdown=countdown)


def _eager() -> bool:
    return current_app.extensions["celery"].conf.task_always_eager


def _flag(name: str) -> str:
    return f"{current_app.config['CELERY_QUEUE']}:drain-requested:{name}"


def _name(drain: Task | str) -> str:
    return drain if isinstance(drain, str) else drain.name


def request_run(drain: Task | str) -> None:
    """Asks for a run of the drain, after the commit that made rows due.

    At most one run waits in the queue: a busy page costs a Redis SET NX per ask, not a
    Celery message. If Redis is down the rows wait for the sweep.
    """
    from kombu.exceptions import KombuError
    from redis.exceptions import RedisError

    name = _name(drain)
    if _eager():
        enqueue(name)  # the embedded default: run now, in this process
        return
    flag = _flag(name)
    redis_client = current_app.extensions["redis"]
    try:
        if redis_client.set(flag, b"1", nx=True, ex=DRAIN_REQUEST_SECONDS):
            try:
                enqueue(name)
            except BaseException:
                redis_client.delete(flag)  # the run was not queued: let the next one ask
                raise
    except (KombuError, RedisError, OSError):
        log.warning("broker unavailable; %s left for the sweep", name)


def request_soon(drain: Task | str) -> None:
    """request_run, for a web request: made within DRAIN_ASK_SECONDS by this process's
    DrainAsker, once for every request of that time.

    The ask still comes after the request's commit, which is all the protocol needs; the
    request saves its Redis round trip (7 % of a signature's instructions,
    bench/instructions.py). A process killed in between leaves its rows to the sweep.
    """
    current_app.extensions["drain_asker"].ask(_name(drain))


def request_in(drain: Task | str, seconds: float) -> None:
    """Asks for a run in `seconds`, only when that is sooner than the next sweep."""
    if seconds < SWEEP_EVERY_SECONDS and not _eager():
        enqueue(_name(drain), countdown=max(1.0, seconds))


def run_started(drain: Task | str) -> None:
    """Called first by a drain run: rows made due from now on need another run."""
    if not _eager():
        current_app.extensions["redis"].delete(_flag(_name(drain)))


class DrainAsker:
    """Asks for drain runs on behalf of one app's web requests, from a thread of its own,
    at most once per `period` for each drain."""

    def __init__(self, app: Flask, period: float = DRAIN_ASK_SECONDS):
        self.app = app
        self.period = period
        self.eager = app.extensions["celery"].conf.task_always_eager
        self._due: set[str] = set()
        self._lock = threading.Lock()  # guards _due and _pid
        self._flushing = threading.Lock()  # held through a flush: flush() waits for one
        self._wake = threading.Event()
        self._pid: int | None = None  # the process whose thread is running
        atexit.register(self.flush)  # a worker's graceful stop asks for what it owes

    def ask(self, name: str) -> None:
        if self.eager:  # the embedded default: run now, in this request
            request_run(name)
            return
        with self._lock:
            self._due.add(name)
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
                due, self._due = self._due, set()
            if not due:
                return
            try:
                with self.app.app_context():
                    for name in sorted(due):
                        request_run(name)
            except Exception:  # the thread must outlive any failure; the sweep covers it
                log.exception("could not ask for %s", ", ".join(sorted(due)))


def ask_for_sweeps() -> None:
    """Queues every registered sweep (a worker's start-up); the caller holds an app
    context. A broker that is away leaves it to beat."""
    try:
        for name in registry.sweeps():
            enqueue(name)
    except Exception:
        log.warning("could not ask for the sweeps")


Outgoing = list[tuple[int, int, Message]]  # row id, attempts so far, the email


def send_and_record(outgoing: Outgoing, *, claim_expires_seconds: float,
                    recording_sent: Callable[[], AbstractContextManager[Callable[[int], None]]],
                    fail: Callable[[int, str], None],
                    retry_later: Callable[[int, int, Exception], float | None],
                    renew_claims: Callable[[list[int]], None]) -> tuple[int, float | None]:
    """Sends a claimed, committed batch, committing each outcome the moment the mail
    server has answered: a worker killed after a commit sends that message no more, one
    killed before it sends again only that message.

    `recording_sent()` gives the function that records one row as sent and commits it
    (the drains make it one autocommit statement on a connection held for the batch: a
    commit through the session per message cost a BEGIN, a COMMIT, a pool checkout and
    a pre-ping, and doubled a letter's CPU). A permanent refusal takes the drain's failure
    path (`fail`); anything else is given back by `retry_later`, which returns its backoff
    (None when it gave up). The claims of the rows still to send are renewed every third
    of the claim expiry. Returns how many were sent and the soonest retry, for one later
    run for the batch.
    """
    from campaign.extensions import db
    from campaign.mail.transport import PermanentMailError, current_transport

    transport = current_transport()
    sent = 0
    soonest_retry: float | None = None
    renew_every = claim_expires_seconds / 3
    renewed_at = time.monotonic()
    with recording_sent() as record_sent:
        for position, (row_id, attempts, message) in enumerate(outgoing):
            try:
                transport.send(message)
            except PermanentMailError as exc:
                fail(row_id, str(exc))
            except Exception as exc:  # TransientMailError, and anything unforeseen: retry
                delay = retry_later(row_id, attempts, exc)
                if delay is not None and (soonest_retry is None or delay < soonest_retry):
                    soonest_retry = delay
            else:
                record_sent(row_id)
                sent += 1
            if time.monotonic() - renewed_at >= renew_every:  # a slow server: still ours
                renew_claims([item[0] for item in outgoing[position + 1:]])
                renewed_at = time.monotonic()
            if db.session().in_transaction():  # what the other paths changed
                db.session.commit()
    return sent, soonest_retry
