"""What the bench scripts share: their server arguments, free loopback ports, a throwaway
PostgreSQL database, and the campaign app's settings and schema for a run."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
# The demo page the benchmarks sign and view (`flask seed-demo` makes it).
SIGN_SLUG = "stop-forced-repatriation"
SIGN_PATH = f"/a/{SIGN_SLUG}"
CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-server",
                        default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server URL; a throwaway database is made on it")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def libpq_url(url: str) -> str:
    """`url` as libpq (psycopg.connect) takes it, whatever SQLAlchemy driver it names."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def psycopg_sqlalchemy_url(url: str) -> str:
    """`url` as the app's DATABASE_URL takes it: SQLAlchemy with the psycopg 3 driver."""
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class ThrowawayDatabase:
    """A database of a run's own on `server_url`, made by `create` and gone after `drop`."""

    def __init__(self, server_url: str, name: str):
        # Only ever drop what a bench run made: its name says so.
        assert name.startswith("campaign_bench_")
        self.server_url = libpq_url(server_url)
        self.name = name
        self.url = libpq_url(make_url(self.server_url).set(database=name)
                             .render_as_string(hide_password=False))

    def _execute(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(statement)

    def create(self) -> None:
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(self.name)))

    def rows(self, query: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.url) as connection:
            return connection.execute(query, params).fetchall()

    def scalar(self, query: str, *params: object) -> object:
        return self.rows(query, *params)[0][0]

    def backend_pids(self) -> set[int]:
        """The server processes serving this database's connections, for CPU accounting."""
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,)).fetchall()
        return {pid for (pid,) in rows}


def app_env(database_url: str, redis_url: str, prefix: str, **settings: str) -> dict[str, str]:
    """The campaign app's environment for a run: this process's, without any CAMPAIGN_ or
    FLASK_ setting of the caller's, on the run's database and with Redis keys of its own
    (`prefix`), in development mode, plus `settings`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CAMPAIGN_", "FLASK_"))}
    env.update({
        "CAMPAIGN_ENV": "development",
        "DATABASE_URL": psycopg_sqlalchemy_url(database_url),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": prefix,
        # The app derives its limiter key prefix from CELERY_QUEUE; this says the same.
        "RATELIMIT_KEY_PREFIX": prefix,
        **settings,
    })
    return env


def build_and_seed(env: dict[str, str]) -> None:
    """Builds the schema and seeds the demo pages, as an operator would."""
    for command in (["db", "upgrade"], ["seed-demo"]):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *command],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(command)} failed:\n{done.stderr}")


def sign_form(token: str, email: str) -> str:
    """A signature's url-encoded body: every field the page's form sends, in its order;
    the blanks are what a browser sends for the honeypot and the empty hidden fields."""
    return urlencode({
        "first_name": "Bench", "last_name": "Signer", "email": email,
        "postal_code": "10001", "country": "US", "website": "", "csrf_token": token,
        "source": "", "utm_source": "", "utm_medium": "", "utm_campaign": "",
        "utm_term": "", "utm_content": "", "referrer": "",
    })


def delete_redis_keys(client, run_prefix: str) -> None:
    """Deletes the keys whose names hold `run_prefix`: a run's random prefix matches its
    own queue, kombu's bindings for it and the limiter's counters, nothing else."""
    keys = list(client.scan_iter(match=f"*{run_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
