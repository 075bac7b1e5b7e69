"""Stripe's webhook events as rows: stored once by id as they arrive, applied by a worker.

The webhook (campaign.donations.webhook) only verifies and stores; the drain
"donations.apply_events" (workers/stripe_events.py) claims due events, applies each to the
ledger in a transaction of its own together with its "applied" mark, and the sweep gives
back the claims of a worker that died. An event is thus applied at least once and its
effects exist exactly once (the ledger's merges end the same when an event comes again).

A pending event's `claimed_at`, when set, is when its retry is due (the backoff after a
failed try); an applying event's is when it was claimed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, text, update

from campaign.common.sql import autocommit_driver_connection, constant, driver_sql, upsert_insert
from campaign.common.types import utcnow
from campaign.donations.models import EventStatus, StripeEvent
from campaign.extensions import db

APPLY_EVENTS = "donations.apply_events"
SWEEP_EVENTS = "donations.sweep_events"


class BadEvent(ValueError):
    """A verified body that is not a Stripe event we can store."""


def parse_event(payload: bytes) -> tuple[str, str, int]:
    """(id, type, created) of a verified event body: all the webhook reads of it."""
    try:
        event = json.loads(payload)
        event_id, event_type, created = event["id"], event["type"], int(event["created"])
    except (ValueError, TypeError, KeyError) as exc:
        raise BadEvent("not a Stripe event") from exc
    if not (isinstance(event_id, str) and isinstance(event_type, str)) or not (
            0 < len(event_id) <= 255 and 0 < len(event_type) <= 100):
        raise BadEvent("not a Stripe event")
    return event_id, event_type, created


# The webhook's one write, on PostgreSQL: a statement of its own in autocommit on a pooled
# connection (no BEGIN, COMMIT or session), as a signature's is. `ON CONFLICT (id)` is the
# primary key, no partial index: nothing here depends on a plan for a parameter.
_STORE_EVENT = text(
    "INSERT INTO stripe_events (id, type, stripe_created, payload, status, attempts, "
    "received_at, last_error) VALUES (:id, :type, :created, :payload, 'pending', 0, :now, '') "
    "ON CONFLICT (id) DO NOTHING")


def store_event(event_id: str, event_type: str, created: int, payload: str) -> bool:
    """Stores a verified event, committed; False when it was stored before (a duplicate)."""
    values = {"id": event_id, "type": event_type, "created": created, "payload": payload,
              "now": utcnow()}
    if db.engine.dialect.name == "postgresql":
        with autocommit_driver_connection() as connection:
            return connection.execute(driver_sql(_STORE_EVENT), values).rowcount == 1
    insert = upsert_insert(db.engine.dialect.name)
    stored = db.session.execute(insert(StripeEvent).values(
        id=event_id, type=event_type, stripe_created=created, payload=payload,
        status=EventStatus.PENDING.value, attempts=0, received_at=values["now"],
        last_error="").on_conflict_do_nothing(index_elements=["id"])).rowcount == 1
    db.session.commit()
    return stored


def _due(now: datetime):
    # Constants: both claims' indexes are partial (campaign.common.sql.constant).
    return and_(StripeEvent.status == constant(EventStatus.PENDING.value),
                or_(StripeEvent.claimed_at.is_(None), StripeEvent.claimed_at <= now))


def claim_events(limit: int) -> list[str]:
    """Marks up to `limit` due events as applying, oldest first, and returns their ids; a
    try is counted as it is claimed, so an event that kills its worker every time still
    ends 'failed'. Rows another claim holds are skipped. The caller commits before
    applying."""
    now = utcnow()
    # Oldest first, a retried event from the time its retry came due: news of a payment
    # that waits for the payment's own event must not take every batch ahead of it.
    ids = list(db.session.scalars(
        select(StripeEvent.id).where(_due(now))
        .order_by(func.coalesce(StripeEvent.claimed_at, StripeEvent.received_at),
                  StripeEvent.id).limit(limit)
        .with_for_update(skip_locked=True)))
    if ids:
        db.session.execute(
            update(StripeEvent).where(StripeEvent.id.in_(ids))
            .values(status=EventStatus.APPLYING.value, claimed_at=now,
                    attempts=StripeEvent.attempts + 1)
            .execution_options(synchronize_session=False))
    return ids


def load_claimed(event_id: str) -> StripeEvent | None:
    """The event, if this worker still holds its claim (a sweep may have given it away)."""
    return db.session.scalar(select(StripeEvent).where(
        StripeEvent.id == event_id,
        StripeEvent.status == constant(EventStatus.APPLYING.value)))


def mark_applied(event: StripeEvent) -> None:
    event.status = EventStatus.APPLIED.value
    event.applied_at = utcnow()
    event.claimed_at = None
    event.last_error = ""


def release_event(event_id: str, error: str, retry_at: datetime) -> None:
    """Gives a claimed event back after a failed try, to be tried again at `retry_at`."""
    db.session.execute(
        update(StripeEvent).where(StripeEvent.id == event_id)
        .values(status=EventStatus.PENDING.value, claimed_at=retry_at, last_error=error[:500])
        .execution_options(synchronize_session=False))


def fail_event(event_id: str, error: str) -> None:
    db.session.execute(
        update(StripeEvent).where(StripeEvent.id == event_id)
        .values(status=EventStatus.FAILED.value, claimed_at=None, last_error=error[:500])
        .execution_options(synchronize_session=False))


def renew_event_claims(event_ids: list[str]) -> None:
    """Marks these claimed events as still held by a live worker."""
    if event_ids:
        db.session.execute(
            update(StripeEvent).where(StripeEvent.id.in_(event_ids),
                                      StripeEvent.status == constant(
                                          EventStatus.APPLYING.value))
            .values(claimed_at=utcnow()).execution_options(synchronize_session=False))


def requeue_abandoned_events(*, claim_expires: timedelta) -> int:
    """Makes pending again the events claimed longer ago than `claim_expires`: their worker
    died before applying them. Returns how many."""
    return db.session.execute(
        update(StripeEvent)
        .where(StripeEvent.status == constant(EventStatus.APPLYING.value),
               StripeEvent.claimed_at < utcnow() - claim_expires)
        .values(status=EventStatus.PENDING.value, claimed_at=None,
                last_error="taken over from a stopped worker")
        .execution_options(synchronize_session=False)).rowcount


def oldest_event_due_since() -> datetime | None:
    """Since when the longest-waiting due event has been due, or None (for /healthz)."""
    return db.session.scalar(
        select(func.min(func.coalesce(StripeEvent.claimed_at, StripeEvent.received_at)))
        .where(_due(utcnow())))


def events_due() -> int:
    return db.session.scalar(select(func.count()).select_from(StripeEvent).where(_due(utcnow())))
