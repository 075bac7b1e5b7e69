"""What bench/submit.py and bench/letters.py both need: free loopback ports and a
throwaway PostgreSQL database."""

from __future__ import annotations

import socket

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


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
