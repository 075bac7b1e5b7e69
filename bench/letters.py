"""Benchmark: letters delivered by real Celery workers to an SMTP server on loopback.

Run by hand, from the repository root, with PostgreSQL and Redis up:

    .venv/bin/python bench/letters.py                      # 5,000 letters, 30 s at 200/s
    .venv/bin/python bench/letters.py --letters 1000 --duration 10 --pools prefork:2

What it does:

1. Creates a throwaway database `campaign_bench_<random>` on --database-server and builds
   the schema with Flask-Migrate. On Redis (--redis-url) the workers use a queue of their
   own, `bench-letters-<random>`.
2. Starts an SMTP server on loopback in its own process: it accepts every message and logs
   the time it came and its Message-ID. By default bench/smtp_sink.mjs (Node, built-in
   modules only); `--sink aiosmtpd` uses bench/_smtp_sink.py, which costs ~1.5 ms of CPU
   a message that the workers on these two cores then lack.
3. Gives each part below a letter page of its own, writing to a custom list of --targets
   offices on example.org, with an hourly cap per office far above anything the run
   sends, so the cap never holds a letter back: this measures delivery, not the cap.
   (Own offices per part: the cap's count of an office's recent letters grows with each
   letter sent to it, and one part must not slow the next.)
4. Baseline: a raw smtplib loop sends as many messages of the same size over one reused
   connection; its messages/s is the ceiling the SMTP server and smtplib allow.
5. Throughput: for each --pools entry, starts `celery -A workers worker` with that pool,
   records --letters letters, asks for a delivery run as the send view does after its
   commit, and measures letters/s from that request to the last message the SMTP server
   received. Checks that every letter is 'sent' and that the server got each Message-ID
   exactly once.
6. Latency: with the pool that delivered fastest, --submitters processes record letters at
   a fixed rate (open loop: submission i at t0 + i/rate, one letter each, recorded and
   committed as the send view does, then a run asked for) for --duration seconds after a
   --warmup,
   and measures each letter's time from its commit to the SMTP server receiving it.
7. Where a letter's time goes (run before the throughput part): one run of the same task
   in this process delivers --profile-letters letters, counting SQL statements and pool
   checkouts; a second run is profiled by phase.
8. Prints PASS/MISS against the goals and removes the workers, the SMTP server, the
   database and the queue, also after an error or Ctrl-C.

Exit status: 0 when every goal passed, 2 when a goal was missed, 1 when the run failed or
a letter was lost, left unsent or delivered twice.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import math
import multiprocessing
import os
import pstats
import secrets
import select
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import flask_migrate
import redis
from _common import (
    ThrowawayDatabase,
    add_server_arguments,
    delete_redis_keys,
    free_port,
    psycopg_sqlalchemy_url,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

THROUGHPUT_GOAL = 500.0  # letters/s, first enqueue to last message received
LATENCY_GOAL_RATE, LATENCY_GOAL_P99 = 200.0, 1.0  # submissions/s, seconds
# An open-loop run that keeps up finishes a hair after its last scheduled send.
RATE_TOLERANCE = 0.99
NOISY_OTHER_PERCENT = 25
HOURLY_CAP = 1_000_000
MAIL_FROM = "Campaign Bench <campaign@example.org>"
CONSENT_VERSION = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BODY_TEMPLATE = """\
I am writing to you as a constituent about forced labour in the supply chains that end \
in our shops. Reports by independent researchers have documented workers held in camps, \
their passports taken and their wages withheld, producing goods that are sold here.

{target_title} {target_name}, you can act. Please support enforcing the sanctions that \
already exist, press for import bans on goods made with forced labour, and ask the \
companies that sell them to publish where their supply chains begin.

People from {town} are watching how our representatives answer. The families of the \
workers cannot speak for themselves without risking reprisals; we can, and we ask you \
to speak for them too.

Thank you for reading my letter. I would be grateful for a reply that says what you \
will do."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--letters", type=int, default=5000,
                        help="letters per throughput run, and messages in the smtplib baseline")
    parser.add_argument("--pools", default="prefork:2,prefork:4,threads:4",
                        help="worker pools to measure throughput with, as pool:concurrency, "
                             "comma-separated (prefork, threads, or gevent if installed)")
    parser.add_argument("--latency-pool", default=None,
                        help="pool:concurrency for the latency run (default: the fastest of "
                             "--pools)")
    parser.add_argument("--rate", type=float, default=LATENCY_GOAL_RATE,
                        help="submissions per second in the latency run, one letter each")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds at --rate")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before")
    parser.add_argument("--submitters", type=int, default=2,
                        help="processes sharing the latency run's submissions")
    parser.add_argument("--targets", type=int, default=20, help="targets on the letter page")
    parser.add_argument("--worker-loglevel", default="INFO",
                        help="as docker-compose.yml runs the worker (INFO logs two lines per task)")
    parser.add_argument("--profile-letters", type=int, default=300,
                        help="letters delivered in this process to see where the time goes "
                             "(0 to skip)")
    parser.add_argument("--drain-timeout", type=float, default=None,
                        help="most seconds to wait for the last messages (default: scaled "
                             "to the letters)")
    parser.add_argument("--sink", choices=sorted(SINKS), default="node",
                        help="the SMTP server on loopback: node (bench/smtp_sink.mjs) or "
                             "aiosmtpd (bench/_smtp_sink.py, the one the tests use)")
    parser.add_argument("--skip", choices=["baseline", "throughput", "latency", "profile"],
                        action="append", default=[], help="leave out a part (repeatable)")
    args = parser.parse_args()
    args.pool_list = [parse_pool(text) for text in args.pools.split(",") if text.strip()]
    if args.latency_pool:
        args.latency_pool = parse_pool(args.latency_pool)
    if "throughput" in args.skip and "latency" not in args.skip and not args.latency_pool:
        args.latency_pool = args.pool_list[0]
    return args


@dataclass(frozen=True)
class Pool:
    name: str
    concurrency: int

    def __str__(self) -> str:
        return f"{self.name}:{self.concurrency}"


def parse_pool(text: str) -> Pool:
    name, _, concurrency = text.strip().partition(":")
    if name not in ("prefork", "threads", "gevent", "eventlet", "solo"):
        raise SystemExit(f"unknown pool {name!r}")
    if name in ("gevent", "eventlet"):
        try:
            __import__(name)
        except ImportError:
            raise SystemExit(f"pool {name} needs the {name} package, which is not installed")
    return Pool(name, int(concurrency or 1))


# Processes and servers ------------------------------------------------------------------


def stop_process(process: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """SIGTERM (a Celery worker's warm shutdown), then SIGKILL to its whole session."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


SINKS = {
    # Node's sink costs a small fraction of aiosmtpd's ~1.5 ms CPU a message, which on two
    # shared cores would otherwise be taken from the workers being measured.
    "node": lambda port, log: ["node", str(BENCH / "smtp_sink.mjs"), "--port", str(port),
                               "--log", str(log)],
    "aiosmtpd": lambda port, log: [sys.executable, str(BENCH / "_smtp_sink.py"), "--port",
                                   str(port), "--log", str(log)],
}


class SmtpSink:
    """An SMTP sink (bench/smtp_sink.mjs or bench/_smtp_sink.py) in its own process, and
    what it has logged so far."""

    def __init__(self, work_dir: Path, kind: str = "node"):
        self.kind = kind
        self.port = free_port()
        self.log_path = work_dir / "received.log"
        self.log_path.touch()
        self.process: subprocess.Popen | None = None
        self.times: dict[str, list[float]] = {}
        self.received = 0
        self._offset = 0

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.process = subprocess.Popen(SINKS[self.kind](self.port, self.log_path),
                                        stdout=subprocess.PIPE, start_new_session=True)
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready or self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        stop_process(self.process, 10)
        self.poll()

    def pid(self) -> set[int]:
        return {self.process.pid} if self.process and self.process.poll() is None else set()

    def poll(self) -> None:
        """Reads the lines logged since the last call."""
        with open(self.log_path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].decode("ascii").splitlines():
            at, message_id = line.split(" ", 1)
            self.times.setdefault(message_id, []).append(float(at))
            self.received += 1

    def wait_for(self, message_ids: Iterable[str], timeout: float,
                  alive: Callable[[], bool] = lambda: True) -> bool:
        """True once every message id has come; False on timeout or when `alive` fails."""
        waiting = set(message_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            waiting = {m for m in waiting if m not in self.times}
            if not waiting:
                return True
            if not alive():
                return False
            time.sleep(0.02)
        return False


class Workers:
    """One `celery -A workers worker` with a given pool, on the run's queue."""

    def __init__(self, pool: Pool, env: dict[str, str], queue: str, log_dir: Path,
                 loglevel: str, broker: redis.Redis):
        self.pool, self.env, self.queue, self.broker = pool, env, queue, broker
        self.log_path = log_dir / f"worker-{pool.name}-{pool.concurrency}.log"
        self.command = [sys.executable, "-m", "celery", "-A", "workers", "worker",
                        f"--pool={pool.name}", f"--concurrency={pool.concurrency}",
                        "-Q", queue, f"--loglevel={loglevel}", "--without-gossip",
                        "--without-mingle", "--without-heartbeat",
                        "-n", f"{queue}-{pool.name}{pool.concurrency}@%h"]
        self.process: subprocess.Popen | None = None

    def start(self, ready: Callable[[], None], timeout: float = 60.0) -> None:
        """Starts the worker and waits until it has taken a message off the queue."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        ready()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited:\n{self.log_tail()}")
            if self.broker.llen(self.queue) == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"worker took nothing off the queue in {timeout:g} s:\n"
                           f"{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> set[int]:
        return {self.process.pid, *descendants(self.process.pid)} if self.alive() else set()

    def stop(self) -> None:
        stop_process(self.process)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def errors_logged(self) -> list[str]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]


# CPU accounting ---------------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, CPU ticks used)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))
    return table


def descendants(pid: int, table: dict | None = None) -> set[int]:
    table = table or _process_table()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _, _) in table.items() if parent in frontier}
        found |= frontier
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


@dataclass
class CpuShare:
    seconds: float
    by_group: dict[str, float]  # percent of one core
    machine_busy: float
    capacity: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine_busy - sum(self.by_group.values()))

    def ms_per(self, group: str, count: int) -> float:
        return 10 * self.by_group[group] * self.seconds / count if count else math.nan


class CpuMeter:
    """CPU time of named process groups over a window, from /proc."""

    def __init__(self, groups: dict[str, Callable[[], set[int]]]):
        self.groups = groups

    def _sample(self) -> tuple[float, tuple[int, int], dict[str, dict[int, int]]]:
        table = _process_table()
        ticks = {name: {pid: table[pid][2] for pid in pids() if pid in table}
                 for name, pids in self.groups.items()}
        return time.monotonic(), _machine_ticks(), ticks

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> CpuShare:
        (t0, (busy0, total0), before), (t1, (busy1, total1), after) = self._start, self._sample()
        seconds = t1 - t0
        by_group = {}
        for name, ticks in after.items():
            used = sum(value - before[name].get(pid, 0) for pid, value in ticks.items())
            by_group[name] = 100 * used / CLOCK_TICKS / seconds
        cores = os.cpu_count() or 1
        machine = 100 * cores * (busy1 - busy0) / max(1, total1 - total0)
        return CpuShare(seconds, by_group, machine, 100 * cores)


def pids_named(name: str) -> set[int]:
    return {pid for pid, (_, comm, _) in _process_table().items() if comm == name}


# The app side: page, letters, and the submitters ------------------------------------------


def app_overrides(database_url: str, redis_url: str, smtp_url: str, queue: str,
                  instance: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": psycopg_sqlalchemy_url(database_url),
        "REDIS_URL": redis_url,
        "SMTP_URL": smtp_url,
        "CELERY_QUEUE": queue,
        "RATELIMIT_KEY_PREFIX": queue,
        "MAIL_FROM": MAIL_FROM,
        "BASE_URL": "http://127.0.0.1:5000",
        "SECRET_KEY": "bench-" + secrets.token_hex(24),
        "OUTBOX_DIR": str(instance / "outbox"),
    }


def build_app(overrides: dict):
    from campaign import create_app

    app = create_app(overrides)
    logging.getLogger().setLevel(logging.WARNING)
    return app


def create_letter_page(slug: str, target_count: int) -> int:
    """A live letter page writing to `target_count` offices of its own; returns its id.
    Commits."""
    from campaign.extensions import db
    from campaign.letters.services import save_settings
    from campaign.pages import services as pages
    from campaign.targets.services import TargetRow, create_target_list

    campaign = pages.get_campaign_by_slug("bench") or \
        pages.create_campaign(slug="bench", name="Bench campaign")
    page = pages.create_page(campaign, slug=slug, title="Write to the offices",
                             kind="letter", status="live")
    target_list = create_target_list(f"offices for {slug}", [
        TargetRow(line=n + 2, name=f"Office {n + 1}", title="Ambassador",
                  email=f"office-{n + 1}@example.org") for n in range(target_count)])
    save_settings(slug, subject="Stop the forced-labour trade", body_template=BODY_TEMPLATE,
                  target_list_id=target_list.id, target_hourly_cap=HOURLY_CAP)
    db.session.commit()
    return page.id


@dataclass
class LetterPage:
    """The page's settings and targets, loaded once and detached, so a commit doesn't
    expire them and each submission costs only what the send view writes."""

    page_id: int
    settings: object
    targets: tuple

    @classmethod
    def load(cls, page_id: int) -> LetterPage:
        from datetime import date

        from campaign.extensions import db
        from campaign.letters.services import get_settings, resolve_targets

        settings = get_settings(page_id)
        targets = resolve_targets(settings, "", None, on=date.today()).targets
        for row in (settings, *targets):
            db.session.expunge(row)
        db.session.rollback()
        return cls(page_id, settings, targets)


def record_submission(page: LetterPage, email: str, targets: tuple) -> list:
    """What the send view writes for one supporter: signature, action and letters.
    Flushes; the caller commits."""
    from campaign.letters.compose import Writer
    from campaign.letters.services import record_letters
    from campaign.supporters.services import Signature, record_signature

    result = record_signature(page.page_id, Signature(email=email, first_name="Bench",
                                                      last_name="Writer", town="Springfield"),
                              CONSENT_VERSION)
    return record_letters(action_id=result.action_id, page_id=page.page_id,
                          settings=page.settings, body=page.settings.body_template,
                          writer=Writer(first_name="Bench", last_name="Writer",
                                        town="Springfield"), targets=targets)


def message_id_of(letter) -> str:
    from campaign.mail.messages import stable_message_id

    return stable_message_id(letter.idempotency_key, MAIL_FROM)


def record_letter_batch(page: LetterPage, count: int, email_prefix: str
                        ) -> list[tuple[int, str]]:
    """`count` letters, one submission per len(targets) of them; (id, Message-ID) each."""
    from campaign.extensions import db

    made: list[tuple[int, str]] = []
    submission = 0
    while len(made) < count:
        targets = page.targets[:count - len(made)]
        letters = record_submission(page, f"{email_prefix}-{submission}@example.org", targets)
        made += [(letter.id, message_id_of(letter)) for letter in letters]
        submission += 1
        if submission % 50 == 0:
            db.session.commit()
    db.session.commit()
    return made


@dataclass
class Submitted:
    index: int
    message_id: str
    scheduled: float
    committed: float
    queued: float


def submitter_main(overrides: dict, page_id: int, index: int, workers: int, total: int,
                   rate: float, email_prefix: str, connection) -> None:
    """One open-loop submitter process: submissions index, index + workers, ... of
    `total`, submission i due at t0 + i / rate, whatever happened to the ones before."""
    from sqlalchemy import text

    from campaign.extensions import db
    from workers.letters import request_letter_delivery

    app = build_app(overrides)
    with app.app_context():
        page = LetterPage.load(page_id)
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        connection.send("ready")
        t0 = connection.recv()
        done: list[Submitted] = []
        hard_stop = t0 + total / rate + 120
        for n in range(index, total, workers):
            due = t0 + n / rate
            now = time.monotonic()
            if now > hard_stop:
                break
            if due > now:
                time.sleep(due - now)
            letters = record_submission(page, f"{email_prefix}-{n}@example.org",
                                        (page.targets[n % len(page.targets)],))
            message_id = message_id_of(letters[0])
            db.session.commit()
            committed = time.monotonic()
            request_letter_delivery()
            done.append(Submitted(n, message_id, due, committed, time.monotonic()))
    connection.send([(s.index, s.message_id, s.scheduled, s.committed, s.queued) for s in done])
    # Alive until the parent has read this process's CPU time.
    connection.poll(600)


# Results ------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[max(1, math.ceil(q / 100 * len(sorted_values))) - 1]


@dataclass
class Baseline:
    messages: int
    seconds: float
    size: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass
class Throughput:
    pool: Pool
    letters: int
    enqueue_seconds: float
    seconds: float  # first enqueue to last message received; nan if not all came
    sent_rows: int
    missing: int
    duplicates: int
    cpu: CpuShare
    errors: list[str]

    @property
    def rate(self) -> float:
        return self.letters / self.seconds if self.seconds == self.seconds else 0.0

    @property
    def correct(self) -> bool:
        return self.sent_rows == self.letters and not self.missing and not self.duplicates


@dataclass
class Latency:
    pool: Pool
    rate: float
    duration: float
    submitted: int  # measured submissions (after the warm-up)
    expected: int
    achieved_rate: float
    lag: list[float]  # commit time minus due time, sorted
    publish: list[float]  # enqueue time after the commit, sorted
    from_commit: list[float]  # sorted
    from_due: list[float]  # sorted
    missing: int
    duplicates: int
    unsent_rows: int
    drain_seconds: float
    cpu: CpuShare
    errors: list[str]

    @property
    def sustained(self) -> bool:
        return (self.submitted == self.expected
                and self.achieved_rate >= RATE_TOLERANCE * self.rate)

    @property
    def correct(self) -> bool:
        return not self.missing and not self.duplicates and not self.unsent_rows


@dataclass
class Profile:
    letters: int
    seconds: float
    cpu_seconds: float  # of this process
    statements: float
    commits: float
    checkouts: float
    phases: list[tuple[str, float]] = field(default_factory=list)  # (name, ms per letter)
    profiled_ms: float = 0.0
    top: list[tuple[str, float, float]] = field(default_factory=list)


class Bench:
    """Owns everything a run creates; `stack` undoes it in reverse order."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack):
        self.args = args
        self.run_id = secrets.token_hex(6)
        self.queue = f"bench-letters-{self.run_id}"
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"campaign-bench-letters-{self.run_id}-"))
        stack.callback(shutil.rmtree, self.work_dir, ignore_errors=True)
        self.stack = stack
        self.database = ThrowawayDatabase(args.database_server, f"campaign_bench_{self.run_id}")
        self.broker = redis.Redis.from_url(args.redis_url)
        self.broker.ping()
        self.batches = 0

        self.database.create()
        stack.callback(self.database.drop)
        stack.callback(self.delete_redis_keys)
        self.sink = SmtpSink(self.work_dir, args.sink)
        stack.callback(self.sink.stop)
        self.sink.start()

        instance = self.work_dir / "instance"
        self.overrides = app_overrides(self.database.url, args.redis_url, self.sink.url,
                                       self.queue, instance)
        self.app = build_app(self.overrides)
        self.context = self.app.app_context()
        self.context.push()
        stack.callback(self.context.pop)
        from campaign.extensions import db

        flask_migrate.upgrade()
        # Alembic's logging set-up turns INFO back on.
        logging.getLogger().setLevel(logging.WARNING)
        stack.callback(db.engine.dispose)
        stack.callback(self.app.extensions["mail_transport"].close)
        self.pages = 0
        self.worker_env = self._worker_env(instance)

    def _worker_env(self, instance: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CAMPAIGN_", "FLASK_"))}
        env.update({
            # As the worker runs in docker-compose.yml.
            "CAMPAIGN_ENV": "production",
            "DATABASE_URL": self.overrides["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": self.args.redis_url,
            "SMTP_URL": self.sink.url,
            "CELERY_QUEUE": self.queue,
            "SECRET_KEY": self.overrides["SECRET_KEY"],
            "BASE_URL": self.overrides["BASE_URL"],
            "MAIL_FROM": MAIL_FROM,
            "ORG_NAME": "Bench organisation",
            "ORG_POSTAL_ADDRESS": "1 Bench Street, Benchville",
            "INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
        })
        return env

    def delete_redis_keys(self) -> None:
        delete_redis_keys(self.broker, self.queue)

    def start_workers(self, pool: Pool) -> Workers:
        """Started while nothing is due: the run the readiness check queues finds nothing."""
        from campaign.extensions import enqueue
        from workers.letters import deliver_letters

        workers = Workers(pool, self.worker_env, self.queue, self.work_dir,
                          self.args.worker_loglevel, self.broker)
        self.stack.callback(workers.stop)
        workers.start(lambda: enqueue(deliver_letters))
        return workers

    def meter(self, workers: Workers) -> CpuMeter:
        me = os.getpid()

        def bench_pids() -> set[int]:
            return ({me} | descendants(me)) - workers.pids() - self.sink.pid()

        return CpuMeter({"workers": workers.pids, "postgres": self.database.backend_pids,
                         "smtp sink": self.sink.pid, "redis": lambda: pids_named("redis-server"),
                         "bench": bench_pids})

    def drain_timeout(self, letters: int) -> float:
        return self.args.drain_timeout or max(60.0, letters / 20)

    def new_page(self) -> LetterPage:
        """Each part writes to offices of its own: the hourly cap's count of an office's
        recent letters grows with every letter sent to it, and one part's letters must not
        slow the next part's claims."""
        self.pages += 1
        return LetterPage.load(create_letter_page(f"bench-letters-{self.pages}",
                                                  self.args.targets))

    def new_batch_prefix(self) -> str:
        self.batches += 1
        return f"bench-{self.run_id}-{self.batches}"

    # The parts ------------------------------------------------------------------------

    def sample_message(self) -> bytes:
        from campaign.extensions import db
        from campaign.letters.emails import build_letter_message
        from campaign.letters.models import Letter

        letter_id, _ = record_letter_batch(self.new_page(), 1, self.new_batch_prefix())[0]
        message = build_letter_message(db.session.get(Letter, letter_id)).as_bytes()
        db.session.rollback()
        return message

    def baseline(self) -> Baseline:
        """One smtplib connection, messages prebuilt: only the wire and the server."""
        sample = self.sample_message()
        head, _, tail = sample.partition(b"Message-ID: ")
        tail = tail.partition(b"\r\n")[2]
        messages = [head + f"Message-ID: <raw-{self.run_id}-{n}@bench>\r\n".encode() + tail
                    for n in range(self.args.letters)]
        ids = [f"<raw-{self.run_id}-{n}@bench>" for n in range(self.args.letters)]
        with smtplib.SMTP("127.0.0.1", self.sink.port, timeout=10) as client:
            client.noop()
            started = time.monotonic()
            for message in messages:
                client.sendmail("campaign@example.org", ["office-1@example.org"], message)
            seconds = time.monotonic() - started
        if not self.sink.wait_for(ids, 10):
            raise RuntimeError("the SMTP sink lost baseline messages")
        return Baseline(len(messages), seconds, len(sample))

    def throughput(self, pool: Pool) -> Throughput:
        from workers.letters import request_letter_delivery

        workers = self.start_workers(pool)
        letters = record_letter_batch(self.new_page(), self.args.letters,
                                      self.new_batch_prefix())
        ids = [message_id for _, message_id in letters]
        meter = self.meter(workers)
        meter.start()
        started = time.monotonic()
        request_letter_delivery()  # what the send view does after its commit
        enqueued = time.monotonic() - started
        complete = self.sink.wait_for(ids, self.drain_timeout(len(letters)), workers.alive)
        cpu = meter.stop()
        last = max((self.sink.times[m][0] for m in ids if m in self.sink.times), default=math.nan)
        # The warm shutdown lets a second copy of any message arrive before counting.
        workers.stop()
        self.sink.poll()
        missing = sum(1 for m in ids if m not in self.sink.times)
        duplicates = sum(len(self.sink.times.get(m, ())) - 1 for m in ids if m in self.sink.times)
        sent = self.database.rows("SELECT count(*) FROM letters WHERE id = ANY(%s) AND "
                                  "status = 'sent'", [letter_id for letter_id, _ in letters])
        return Throughput(pool, len(letters), enqueued,
                          last - started if complete else math.nan, sent[0][0], missing,
                          duplicates, cpu, workers.errors_logged())

    def latency(self, pool: Pool) -> Latency:
        args = self.args
        warmup_count = round(args.warmup * args.rate)
        total = warmup_count + round(args.duration * args.rate)
        prefix = self.new_batch_prefix()
        page = self.new_page()
        workers = self.start_workers(pool)
        context = multiprocessing.get_context("spawn")
        children = []
        for index in range(args.submitters):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=submitter_main, daemon=True,
                args=(self.overrides, page.page_id, index, args.submitters, total, args.rate,
                      prefix, theirs))
            process.start()
            self.stack.callback(_end_child, process)
            children.append((process, ours))
        for process, pipe in children:
            if not pipe.poll(60):
                raise RuntimeError("a submitter did not start")
            pipe.recv()
        t0 = time.monotonic() + 0.3
        for _, pipe in children:
            pipe.send(t0)
        meter = self.meter(workers)
        time.sleep(max(0.0, t0 + args.warmup - time.monotonic()))
        meter.start()
        submitted: list[Submitted] = []
        for process, pipe in children:
            if not pipe.poll(args.warmup + args.duration + 180):
                raise RuntimeError("a submitter did not finish")
            submitted += [Submitted(*row) for row in pipe.recv()]
        measured = sorted((s for s in submitted if s.index >= warmup_count),
                          key=lambda s: s.index)
        ids = [s.message_id for s in submitted]
        last_commit = max(s.committed for s in submitted)
        self.sink.wait_for(ids, self.drain_timeout(len(ids)), workers.alive)
        cpu = meter.stop()
        for process, pipe in children:
            pipe.send("stop")
            process.join(10)
        workers.stop()
        self.sink.poll()
        times = self.sink.times
        received = [s for s in measured if s.message_id in times]
        last_received = max((times[s.message_id][0] for s in submitted
                             if s.message_id in times), default=math.nan)
        expected = total - warmup_count
        first_due = t0 + warmup_count / args.rate
        achieved = (len(measured) / (measured[-1].committed - first_due + 1 / args.rate)
                    if measured else 0.0)
        unsent = self.database.rows(
            "SELECT count(*) FROM letters l JOIN actions a ON a.id = l.action_id "
            "JOIN supporters s ON s.id = a.supporter_id "
            "WHERE s.email LIKE %s AND l.status <> 'sent'", f"{prefix}-%")[0][0]
        return Latency(
            pool, args.rate, args.duration, len(measured), expected, achieved,
            sorted(s.committed - s.scheduled for s in measured),
            sorted(s.queued - s.committed for s in measured),
            sorted(times[s.message_id][0] - s.committed for s in received),
            sorted(times[s.message_id][0] - s.scheduled for s in received),
            missing=sum(1 for s in submitted if s.message_id not in times),
            duplicates=sum(len(times[m]) - 1 for m in ids if m in times),
            unsent_rows=unsent, drain_seconds=last_received - last_commit, cpu=cpu,
            errors=workers.errors_logged())

    def profile(self) -> Profile:
        """The deliver task run in this process: no broker, no Celery worker around it."""
        from sqlalchemy import event

        from campaign.extensions import db

        task = self.app.extensions["celery"].tasks["letters.deliver"]
        count = self.args.profile_letters
        counts = {"statements": 0, "commits": 0, "checkouts": 0}

        def counter(name: str) -> Callable[..., None]:
            def count_one(*_: object, **__: object) -> None:
                counts[name] += 1
            return count_one

        listeners = [(db.engine, "before_cursor_execute", counter("statements")),
                     (db.engine, "commit", counter("commits")),
                     (db.engine.pool, "checkout", counter("checkouts"))]
        page = self.new_page()
        record_letter_batch(page, 1, self.new_batch_prefix())
        task()  # connections and templates warm
        timed = record_letter_batch(page, count, self.new_batch_prefix())
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            delivered = task()  # one run delivers every letter that is due, in batches
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
        finally:
            for target, name, listener in listeners:
                event.remove(target, name, listener)
        if delivered != count:
            raise RuntimeError(f"the run in this process delivered {delivered} of {count}")
        profiled = record_letter_batch(page, count, self.new_batch_prefix())
        profiler = cProfile.Profile()
        profiler.enable()
        task()
        profiler.disable()
        result = Profile(delivered, seconds, cpu_seconds, counts["statements"] / delivered,
                         counts["commits"] / delivered, counts["checkouts"] / delivered)
        stats = pstats.Stats(profiler).stats
        result.phases, result.profiled_ms, result.top = _phases(stats, count)
        ids = [message_id for _, message_id in timed + profiled]
        if not self.sink.wait_for(ids, 10):
            raise RuntimeError("letters delivered in this process did not reach the sink")
        return result


def _end_child(process) -> None:
    if process.is_alive():
        process.terminate()
        process.join(5)


PHASES = [  # (label, a part of the file's path, function): cumulative time, per letter
    ("claim_letters (lock letters and targets, cap count, events)", "/campaign/letters/",
     "claim_letters"),
    ("build_letter_message (templates, MIME)", "/campaign/letters/", "build_letter_message"),
    ("SMTPTransport.send (flatten + SMTP round trips)", "/campaign/mail/transport.py", "send"),
    ("  of which flattening the message", "/email/generator.py", "flatten"),
    ("mark_sent (one UPDATE + one INSERT per five letters)", "/campaign/letters/",
     "mark_sent"),
    ("Session.commit (flushes and COMMITs)", "/sqlalchemy/orm/scoping.py", "commit"),
    ("SQL execution in psycopg (all statements)", "/psycopg/cursor.py", "execute"),
    ("pool checkout (pre-ping)", "/sqlalchemy/pool/base.py", "_checkout"),
    ("FlaskTask.__call__ (app context + the task)", "/campaign/extensions.py", "__call__"),
]


def _phases(stats: dict, letters: int) -> tuple[list[tuple[str, float]], float, list]:
    def cumulative(path_part: str, function: str) -> float:
        return max((value[3] for (filename, _, name), value in stats.items()
                    if name == function and path_part in filename), default=0.0)

    total = cumulative("/campaign/extensions.py", "__call__")
    phases = [(label, 1000 * cumulative(path_part, function) / letters)
              for label, path_part, function in PHASES]
    own = sorted(((f"{Path(filename).name}:{line} {name}", 1000 * value[2] / letters,
                   1000 * value[3] / letters)
                  for (filename, line, name), value in stats.items()),
                 key=lambda row: row[1], reverse=True)[:8]
    return phases, 1000 * total / letters, own


# Report -------------------------------------------------------------------------------


def goal(passed: bool, text: str) -> tuple[bool, str]:
    return passed, f"  {'PASS' if passed else 'MISS'}  {text}"


def cpu_lines(share: CpuShare, letters: int) -> list[str]:
    groups = ", ".join(f"{name} {value:.0f}%" for name, value in share.by_group.items())
    per_letter = ", ".join(f"{name} {share.ms_per(name, letters):.2f}"
                           for name in ("workers", "postgres", "smtp sink", "redis"))
    lines = [f"    CPU, % of one core: machine {share.machine_busy:.0f}/{share.capacity:.0f}; "
             f"{groups}; other {share.other:.0f}%",
             f"    CPU ms per letter: {per_letter}"]
    if share.other > NOISY_OTHER_PERCENT:
        lines.append(f"    WARNING: other processes used {share.other:.0f}% of a core: "
                     "these numbers understate the code")
    return lines


def describe_setup(args: argparse.Namespace, bench: Bench) -> str:
    load = os.getloadavg()
    return "\n".join([
        f"campaign bench/letters.py  run {bench.run_id}  database {bench.database.name}  "
        f"queue {bench.queue}",
        f"letters: each part writes to a letter page and {args.targets} offices on example.org "
        f"of its own, target_hourly_cap={HOURLY_CAP:,}: the per-office cap never holds a "
        "letter back in this run",
        f"workers: celery -A workers worker, CAMPAIGN_ENV=production, --loglevel="
        f"{args.worker_loglevel}, prefetch multiplier 4, acks late (campaign/extensions.py)",
        f"SMTP: {bench.sink.kind} sink on 127.0.0.1:{bench.sink.port} in its own process, "
        f"accepts all",
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} at start",
    ])


def report(args: argparse.Namespace, baseline: Baseline | None, runs: list[Throughput],
           latency: Latency | None, profile: Profile | None) -> int:
    checks, failed = [], False
    if baseline:
        print(f"\nbaseline: raw smtplib, one connection, {baseline.messages} prebuilt messages "
              f"of {baseline.size:,} bytes: {baseline.rate:,.0f} messages/s")
    if runs:
        print(f"\nthroughput: {args.letters} letters queued at once, first enqueue to last "
              "message received")
        for run in runs:
            ratio = f", {run.rate / baseline.rate:.2f} x raw smtplib" if baseline else ""
            print(f"  {str(run.pool):<12} {run.rate:7.1f} letters/s{ratio}  (enqueue "
                  f"{run.enqueue_seconds:.2f} s, total {run.seconds:.2f} s)")
            print(f"    status 'sent': {run.sent_rows}/{run.letters}; Message-IDs missing "
                  f"{run.missing}, duplicated {run.duplicates}")
            for line in cpu_lines(run.cpu, run.letters):
                print(line)
            for line in run.errors[:5]:
                print(f"    worker log: {line}")
            failed |= not run.correct
        best = max(runs, key=lambda r: r.rate)
        checks.append(goal(best.rate >= THROUGHPUT_GOAL,
                           f">= {THROUGHPUT_GOAL:g} letters/s end to end: best {best.rate:.1f}/s "
                           f"with {best.pool}"))
    if latency:
        lat = latency
        print(f"\nlatency: {lat.rate:g} submissions/s (one letter each) for {lat.duration:g} s "
              f"after a {args.warmup:g} s warm-up, {args.submitters} open-loop submitter "
              f"processes, workers {lat.pool}")
        print(f"  submitted {lat.submitted}/{lat.expected}, achieved {lat.achieved_rate:.1f}/s "
              f"(rate {'sustained' if lat.sustained else 'NOT sustained'}); submit lag behind "
              f"schedule p50 {1000 * percentile(lat.lag, 50):.1f} ms, p99 "
              f"{1000 * percentile(lat.lag, 99):.1f} ms; publishing to Redis p50 "
              f"{1000 * percentile(lat.publish, 50):.1f} ms")
        for label, values in (("commit -> received", lat.from_commit),
                              ("scheduled -> received", lat.from_due)):
            print(f"  {label:<22} p50 {1000 * percentile(values, 50):7.1f} ms  p99 "
                  f"{1000 * percentile(values, 99):7.1f} ms  max "
                  f"{1000 * (values[-1] if values else math.nan):7.1f} ms")
        print(f"  last message {lat.drain_seconds:.2f} s after the last commit; letters not "
              f"'sent' {lat.unsent_rows}; Message-IDs missing {lat.missing}, duplicated "
              f"{lat.duplicates}")
        for line in cpu_lines(lat.cpu, lat.submitted):
            print(line)
        for line in lat.errors[:5]:
            print(f"    worker log: {line}")
        failed |= not lat.correct
        p99 = percentile(lat.from_commit, 99)
        at_rate = "" if lat.rate >= LATENCY_GOAL_RATE else f" (run at --rate {lat.rate:g})"
        checks.append(goal(lat.sustained and p99 <= LATENCY_GOAL_P99 and lat.correct
                           and lat.rate >= LATENCY_GOAL_RATE,
                           f"p99 commit -> received <= {LATENCY_GOAL_P99:g} s at "
                           f"{LATENCY_GOAL_RATE:g}/s: p99 {p99:.3f} s at {lat.achieved_rate:.1f}/s"
                           f"{'' if lat.sustained else ' (rate not sustained)'}{at_rate}"))
    if profile:
        print(f"\nper letter, in this process (the task called directly, no broker or worker): "
              f"{profile.letters} letters, {1000 * profile.seconds / profile.letters:.2f} ms "
              f"each = {profile.letters / profile.seconds:.0f} letters/s; this process's CPU "
              f"{1000 * profile.cpu_seconds / profile.letters:.2f} ms per letter, the rest is "
              "waiting for PostgreSQL and the SMTP server")
        round_trips = profile.statements + 2 * profile.commits + profile.checkouts
        print(f"  PostgreSQL round trips about {round_trips:.0f}: SQL statements "
              f"{profile.statements:.1f}, transactions {profile.commits:.1f} (a BEGIN and a COMMIT "
              f"each), pool checkouts {profile.checkouts:.1f} (a pre-ping SELECT 1 each)")
        print(f"  cProfile, ms per letter (cumulative; profiler overhead included, "
              f"{profile.profiled_ms:.2f} ms in all):")
        for label, ms in profile.phases:
            print(f"    {ms:6.2f}  {label}")
        print("  most own time: " + "; ".join(f"{name} {own:.2f}" for name, own, _ in
                                              profile.top[:5]))
    print("\ngoals:")
    print("\n".join(text for _, text in checks) or "  (none measured)")
    if failed:
        print("FAIL: a letter was lost, left unsent or delivered twice")
        return 1
    return 0 if all(passed for passed, _ in checks) else 2


def run_and_report(args: argparse.Namespace) -> int:
    baseline, runs, latency, profile = None, [], None, None
    with ExitStack() as stack:
        bench = Bench(args, stack)
        print(describe_setup(args, bench), flush=True)
        if "baseline" not in args.skip:
            baseline = bench.baseline()
            print(f"baseline done: {baseline.rate:,.0f} messages/s", flush=True)
        if "profile" not in args.skip and args.profile_letters > 1:
            profile = bench.profile()
            print("profile done", flush=True)
        if "throughput" not in args.skip:
            for pool in args.pool_list:
                runs.append(bench.throughput(pool))
                print(f"throughput {pool} done: {runs[-1].rate:.1f} letters/s", flush=True)
        if "latency" not in args.skip:
            pool = args.latency_pool or max(runs, key=lambda r: r.rate).pool
            latency = bench.latency(pool)
            print(f"latency with {pool} done", flush=True)
    return report(args, baseline, runs, latency, profile)


def main() -> int:
    args = parse_args()
    # SIGTERM unwinds like Ctrl-C, so the workers, database and queue still go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        return run_and_report(args)
    except KeyboardInterrupt:
        print("\ninterrupted: workers and SMTP server stopped, database dropped, queue deleted",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
