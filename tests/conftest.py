"""Fixtures: real PostgreSQL, Redis, SMTP server and Celery worker; factories for rows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import celery
import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from campaign import create_app
from campaign.extensions import db, limiter
from campaign.pages import services as page_services
from tests.helpers import csrf_token, valid_signature
from tests.servers import LocalStripe, SMTPSink, ThrowawayPostgres, ThrowawayRedis

ROOT = Path(__file__).resolve().parent.parent


def _psycopg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def pytest_configure(config: pytest.Config) -> None:
    # Every app the tests build in this process is a TestingConfig app, whatever the shell
    # exported; processes the tests start (workers, gunicorn, run.sh) get their own env.
    os.environ["CAMPAIGN_ENV"] = "testing"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests with a live Celery worker run last: once started, the worker consumes every
    # queued task, which would race the in-process tests that inspect pending rows.
    # A test that asks for the session's worker without the marker starts it all the same:
    # it sorts last too.
    items.sort(key=lambda item: item.get_closest_marker("worker") is not None
               or "celery_worker" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        yield _psycopg_url(os.environ["TEST_DATABASE_URL"])
        return
    server = ThrowawayPostgres()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ThrowawayRedis | None]:
    """The throwaway Redis server, or None when TEST_REDIS_URL names one we don't own."""
    if os.environ.get("TEST_REDIS_URL"):
        yield None
        return
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: ThrowawayRedis | None) -> str:
    return redis_server.url if redis_server else os.environ["TEST_REDIS_URL"]


def _create_database(server_url: str) -> str:
    """A database of our own on the server, so tests never touch anyone else's data."""
    name = f"campaign_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    assert name.startswith("campaign_test_")
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    url = _create_database(postgres_server_url)
    yield url
    _drop_database(postgres_server_url, url)


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SMTPSink]:
    sink = SMTPSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def local_stripe() -> Iterator[LocalStripe]:
    """The session's local Stripe-compatible server (never the real Stripe)."""
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def queue_name() -> str:
    return f"campaign-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def app_settings(database_url: str, redis_url: str, smtp_sink: SMTPSink, queue_name: str,
                 local_stripe: LocalStripe, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {
        **local_stripe.settings(),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-to-pass",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "SMTP_URL": smtp_sink.url,
        "CELERY_QUEUE": queue_name,
        "RATELIMIT_KEY_PREFIX": queue_name,
        "OUTBOX_DIR": str(tmp_path_factory.mktemp("outbox")),
        "BASE_URL": "http://campaign.test",
        "MAIL_FROM": "Campaign Test <campaign@example.org>",
        "ORG_NAME": "Test Organisation",
        "ORG_POSTAL_ADDRESS": "1 Test Street, Testville",
        # Tests read counts and pages straight after writing them.
        "COUNT_CACHE_SECONDS": 0,
        "PAGE_CACHE_SECONDS": 0,
        "VIEW_FLUSH_SECONDS": 0,
        "SIGN_RATE_LIMIT": "1000/minute",
        "LETTER_RETRY_BASE_SECONDS": 1,
    }


@pytest.fixture(scope="session")
def app(app_settings: dict) -> Flask:
    app = create_app(app_settings)
    with app.app_context():
        flask_migrate.upgrade()
    return app


def _embedded_settings(app_settings: dict, database: Path, outbox: Path) -> dict:
    """The embedded default a newcomer meets (README, scripts/run.sh): SQLite, tasks run
    in-process right after the commit, mail written to an outbox folder."""
    return {**app_settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "REDIS_URL": None, "SMTP_URL": None, "OUTBOX_DIR": str(outbox),
            # The limiter is one instance for every app in the process and keeps the
            # storage of the last init_app: the tests' app must find its Redis there still.
            "RATELIMIT_STORAGE_URI": app_settings["REDIS_URL"]}


@contextmanager
def own_celery_default() -> Iterator[None]:
    """create_app makes its Celery app the current and default one; afterwards the one
    before (the tests' app's) takes its place again, so shared tasks find it."""
    previous = celery.current_app._get_current_object()
    try:
        yield
    finally:
        previous.set_current()
        previous.set_default()


@pytest.fixture(scope="session")
def migrated_sqlite(app_settings: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database upgraded by the migrations once; each embedded app gets a copy."""
    folder = tmp_path_factory.mktemp("sqlite")
    with own_celery_default():
        app = create_app(_embedded_settings(app_settings, folder / "migrated.sqlite3",
                                            folder / "outbox"))
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
    return folder / "migrated.sqlite3"


@pytest.fixture
def embedded_app(app_settings: dict, migrated_sqlite: Path, tmp_path: Path) -> Iterator[Flask]:
    """An app on the embedded default, on a database of its own (mail in tmp_path/outbox)."""
    database = tmp_path / "campaign.sqlite3"
    shutil.copyfile(migrated_sqlite, database)
    with own_celery_default():
        app = create_app(_embedded_settings(app_settings, database, tmp_path / "outbox"))
        yield app
        with app.app_context():
            db.engine.dispose()


def outbox_mail(app: Flask) -> list[EmailMessage]:
    """The messages an embedded app wrote to its outbox folder, oldest first."""
    files = sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"),
                   key=lambda path: path.stat().st_mtime_ns)
    return [message_from_bytes(path.read_bytes(), policy=default_policy) for path in files]


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    # Asks for runs still waiting from this test are made now, not into the next one.
    app.extensions["drain_asker"].flush()
    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        # Ids keep counting up across tests, so a queued message left over from an
        # earlier test can never find (and deliver) a later test's row.
        db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
        db.session.commit()
        limiter.reset()
        with app.extensions["celery"].connection_for_write() as connection:
            connection.default_channel.queue_purge(app.config["CELERY_QUEUE"])
        # A purged run must not leave its "run requested" flag to hold the next test's back.
        redis_client = app.extensions["redis"]
        flags = list(redis_client.scan_iter(f"{app.config['CELERY_QUEUE']}:drain-requested:*"))
        if flags:
            redis_client.delete(*flags)
    app.extensions["page_caches"].clear()
    request.getfixturevalue("smtp_sink").clear()


@pytest.fixture
def one_connection_app(app_settings: dict, app: Flask) -> Iterator[Flask]:
    """The app with a pool of exactly one connection: every statement shares it. Hot
    paths run dozens of times on it, because psycopg prepares a statement after five runs
    and PostgreSQL's generic plan then behaves differently (tests/letters/
    test_one_connection.py says how)."""
    single = create_app({**app_settings, "SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_size": 1, "max_overflow": 0, "pool_pre_ping": True}})
    yield single
    with single.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sql_reader(app: Flask) -> Callable[..., list]:
    """Runs SQL against `app`'s database in a fresh session: what really got committed."""

    def run(sql: str, **params: object) -> list:
        with app.app_context():
            return [tuple(row) for row in db.session.execute(text(sql), params)]

    return run


@pytest.fixture
def query(app: Flask) -> Callable[..., list]:
    return sql_reader(app)


def page_maker(app: Flask) -> Callable[..., str]:
    """Creates live petition pages in `app` (the fields given change that) and returns
    their slugs."""
    counter = iter(range(1, 1_000_000))

    def create(**fields: object) -> str:
        n = next(counter)
        fields.setdefault("slug", f"page-{n}")
        fields.setdefault("title", f"Test page {n}")
        fields.setdefault("kind", "petition")
        fields.setdefault("status", "live")
        fields.setdefault("body_markdown", "Forced labour pays for **missiles**.")
        fields.setdefault("cards", [("A sourced claim.", "A source", "https://example.org/s")])
        with app.app_context():
            campaign = page_services.get_campaign_by_slug("test") or \
                page_services.create_campaign(slug="test", name="Test campaign")
            page = page_services.create_page(campaign, **fields)
            db.session.commit()
            return page.slug

    return create


@pytest.fixture
def create_page(app: Flask) -> Callable[..., str]:
    return page_maker(app)


@pytest.fixture
def create_signature(app: Flask) -> Callable[..., int]:
    """Records a signature without queueing its thank-you: for tests that run the task in
    this process and must not race the session's Celery worker."""
    from campaign.supporters.services import Signature, record_signature

    def create(slug: str, email: str = "ji-woo@example.org", **fields: object) -> int:
        with app.app_context():
            page_id = page_services.load_page_view(slug).id
            result = record_signature(
                page_id, Signature(email=email, first_name=fields.pop("first_name", "Ji-woo"),
                                   last_name=fields.pop("last_name", "Park"), **fields),
                app.config["CONSENT_EMAIL_UPDATES_VERSION"])
            db.session.commit()
            return result.action_id

    return create


@pytest.fixture
def sign(client: FlaskClient) -> Callable:
    """Posts the sign form the way a browser does: page first, then the form with its token."""

    def post(slug: str, **fields: str):
        token = csrf_token(client, slug)
        return client.post(f"/a/{slug}", data={"csrf_token": token, **valid_signature(**fields)})

    return post


@pytest.fixture(scope="session")
def worker_env(app_settings: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "CAMPAIGN_"))}
    env.update({
        "CAMPAIGN_ENV": "development",
        # The receipt unseals the status link the web app sealed with this key.
        "SECRET_KEY": app_settings["SECRET_KEY"],
        "DATABASE_URL": app_settings["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app_settings["REDIS_URL"],
        "SMTP_URL": app_settings["SMTP_URL"],
        "CELERY_QUEUE": app_settings["CELERY_QUEUE"],
        "BASE_URL": app_settings["BASE_URL"],
        "MAIL_FROM": app_settings["MAIL_FROM"],
        "ORG_NAME": app_settings["ORG_NAME"],
        "ORG_POSTAL_ADDRESS": app_settings["ORG_POSTAL_ADDRESS"],
        **{name: app_settings[name] for name in (
            "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET",
            "STRIPE_API_BASE", "STRIPE_JS_URL")},
        "PYTHONPATH": str(ROOT),
        # Retries after a 4xx wait seconds, not minutes, so tests see them happen.
        "LETTER_RETRY_BASE_SECONDS": "1",
    })
    return env


class WorkerProcess:
    """A real `celery -A workers worker` process on the test queue."""

    def __init__(self, env: dict, log_path: Path, concurrency: int = 2):
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.log_path, "ab")
        start = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "worker", "--loglevel=INFO",
             f"--concurrency={self.concurrency}", "-Q", self.env["CELERY_QUEUE"],
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.log_path.read_text()[-3000:])
            with open(self.log_path, "rb") as handle:
                handle.seek(start)
                if b" ready." in handle.read():
                    return
            time.sleep(0.1)
        raise TimeoutError("worker not ready:\n" + self.log_path.read_text()[-3000:])

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes: no chance to finish anything."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def celery_worker(app: Flask, worker_env: dict,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(worker_env, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    yield worker
    worker.stop()
