"""Is delivery keeping up? Each drain records how its runs end; a drain that keeps failing,
or rows due for longer than a threshold, are delivery problems that /healthz reports
(as "degraded") and staff pages show.

Before this, a drain that failed on every run failed silently: letters stopped going out
and nothing said so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from campaign import outbox
from campaign.common.errors import describe_error
from campaign.common.sql import upsert_insert
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.health.models import DrainState

log = logging.getLogger(__name__)

def record_drain_run(name: str, error: str | None = None) -> None:
    """Records that a run of the drain `name` ended, well or with `error`. Commits on a
    connection of its own: a failed run's session is rolled back or broken."""
    now = utcnow()
    table = DrainState.__table__
    if error is None:
        changes = {"last_success_at": now, "failures_in_a_row": 0, "last_error": ""}
    else:
        changes = {"last_failure_at": now, "last_error": error[:500],
                   "failures_in_a_row": table.c.failures_in_a_row + 1}
    # A first run's row: the changes, with its count of failures started.
    first = {**changes, "name": name, "failures_in_a_row": 0 if error is None else 1}
    statement = (upsert_insert(db.engine.dialect.name)(table).values(first)
                 .on_conflict_do_update(index_elements=["name"], set_=changes))
    with db.engine.begin() as connection:
        connection.execute(statement)


@contextmanager
def watched_drain(name: str) -> Iterator[None]:
    """Wraps one run of a drain: its end, good or bad, is recorded."""
    try:
        yield
    except Exception as exc:
        db.session.rollback()
        try:
            record_drain_run(name, describe_error(exc))
        except Exception:  # the database itself is down: the run's own error says enough
            log.exception("could not record the failure of %s", name)
        raise
    record_drain_run(name)


@dataclass(frozen=True)
class DeliveryProblem:
    drain: str
    summary: str
    since: datetime | None
    error: str = ""


def delivery_problems() -> list[DeliveryProblem]:
    """Drains failing DRAIN_FAILURES_ALERT runs in a row, and rows due for longer than
    DRAIN_BACKLOG_ALERT_SECONDS (each drain registers its backlog with campaign.outbox)."""
    config = current_app.config
    problems = [
        DeliveryProblem(state.name, f"{state.failures_in_a_row} runs in a row failed",
                        state.last_failure_at, state.last_error)
        for state in db.session.scalars(
            select(DrainState)
            .where(DrainState.failures_in_a_row >= config["DRAIN_FAILURES_ALERT"])
            .order_by(DrainState.name))]
    threshold = utcnow() - timedelta(seconds=config["DRAIN_BACKLOG_ALERT_SECONDS"])
    for drain, oldest_due_since in sorted(outbox.registry.backlogs().items()):
        since = oldest_due_since()
        if since is not None and since < threshold:
            problems.append(DeliveryProblem(drain, "rows waiting longer than they should",
                                            since))
    return problems
