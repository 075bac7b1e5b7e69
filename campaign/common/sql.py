"""SQL that differs between the two backends we run on, and the hottest statement's way
past the ORM."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import ColumnElement, Date, TextClause, cast, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from campaign.extensions import db


def upsert_insert(dialect_name: str):
    """The INSERT construct that has `on_conflict_do_*` on this backend: PostgreSQL in
    production and tests, SQLite as the embedded default."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def constant(value: str) -> ColumnElement:
    """`value` written into the SQL text, not sent as a bound parameter.

    For a status compared with a partial index's predicate (`WHERE status = 'open'`). A
    statement that runs often on one connection is prepared by psycopg after five runs,
    and PostgreSQL then plans it for any parameter value (a generic plan): it can no longer
    prove that `status = $1` implies the index's predicate. An `ON CONFLICT ... WHERE`
    then fails ("no unique or exclusion constraint matching"), and a scan that needs the
    index reads the whole table. Only for our own constants, never for input.
    """
    return literal_column("'" + value.replace("'", "''") + "'")


# The hottest write, a signature, is one PostgreSQL statement. Run through SQLAlchemy's
# session it also paid for the statement cache lookup, parameter processing, result
# wrapping and the session's BEGIN and COMMIT round trips: more CPU than the statement
# itself (profiled). These run it on psycopg's own connection instead. The statement
# must be plain text with untyped `:name` parameters, which psycopg takes as they are.


@lru_cache(maxsize=16)
def _driver_sql(statement: TextClause, dialect: Dialect) -> str:
    return statement.compile(dialect=dialect).string


def driver_sql(statement: TextClause) -> str:
    """`statement` as the driver takes it (`%(name)s` parameters), compiled once."""
    return _driver_sql(statement, db.engine.dialect)


def session_driver_connection():
    """The driver's connection under the session's current transaction: what runs on it
    is committed or rolled back with the session."""
    return db.session.connection().connection.driver_connection


@contextmanager
def autocommit_driver_connection() -> Iterator:
    """A connection of the driver's own from the engine's pool (checked with the pool's
    pre-ping), outside the session, in autocommit mode: each statement is its own
    transaction, committed when it returns."""
    pooled = db.engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True
        try:
            yield driver
        finally:
            try:
                driver.autocommit = False
            except Exception:  # a broken connection: the pool must not hand it out again
                pooled.invalidate()
    finally:
        pooled.close()  # back to the pool


@contextmanager
def committing_each(statement: TextClause, portable: Callable[[int], None]
                    ) -> Iterator[Callable[[int], None]]:
    """A function that records one row (by id) in a transaction of its own, committed
    when it returns: a drain's "sent", the moment the mail server took the message.

    On PostgreSQL it runs `statement` (parameters `:id` and `:now`) in autocommit on a
    pooled connection held for the whole `with` block: no BEGIN, COMMIT, pool checkout
    or pre-ping per row (a commit through the session cost all four, and doubled a
    letter's CPU in bench/letters.py). Elsewhere (SQLite) `portable(id)` through the
    session, then a commit.
    """
    from campaign.common.types import utcnow

    if db.engine.dialect.name != "postgresql":
        def record(row_id: int) -> None:
            portable(row_id)
            db.session.commit()

        yield record
        return
    sql = driver_sql(statement)
    with autocommit_driver_connection() as connection:
        yield lambda row_id: connection.execute(sql, {"id": row_id, "now": utcnow()})


def utc_day(column):
    """The UTC calendar day of a timestamp column, as SQL on either backend (reports by
    day: signatures, money)."""
    if db.engine.dialect.name == "postgresql":
        # date(timestamptz) would take the session's time zone, which is the server's.
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite stores UTC text
