"""Tasks for Stripe's webhook events: the drain that applies them to the ledger, and its
sweep (campaign/donations/events.py holds the rows' states)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from celery import shared_task
from flask import current_app

from campaign import outbox
from campaign.common.errors import describe_error
from campaign.common.types import utcnow
from campaign.donations import events
from campaign.donations.donor_emails import DONOR_EMAILS_DRAIN
from campaign.donations.ledger import EMAILS_QUEUED, NotYetKnown, apply_event
from campaign.extensions import db
from campaign.health.drains import watched_drain
from workers.retry import jittered_backoff

log = logging.getLogger(__name__)

BATCH_SIZE = 20
NOT_YET_KNOWN_WAIT_SECONDS = 5.0
NOT_YET_KNOWN_GIVE_UP = timedelta(minutes=15)


def backoff_seconds(attempts: int) -> float:
    """2 s, 4 s, 8 s ... capped at 10 minutes, with jitter: an event that names a payment
    not yet recorded usually waits only for the news that records it."""
    return jittered_backoff(attempts - 1, base=2, cap=600)


@shared_task(name=events.APPLY_EVENTS)
def apply_events() -> int:
    """Applies every due event, each in a transaction of its own with its "applied" mark
    and the donor emails it queued: a worker killed mid-batch leaves the event it was
    applying claimed (the sweep gives it back), and every other event applied or not
    touched. Returns how many were applied."""
    outbox.run_started(apply_events)
    with watched_drain(apply_events.name):
        applied, emails = 0, False
        while event_ids := events.claim_events(BATCH_SIZE):
            db.session.commit()
            if len(event_ids) == BATCH_SIZE:
                outbox.request_run(apply_events)  # more are waiting: another worker may help
            done, queued = apply_claimed(event_ids)
            applied += done
            emails = emails or queued
        db.session.commit()
    if emails:
        outbox.request_run(DONOR_EMAILS_DRAIN)
    return applied


def apply_claimed(event_ids: list[str]) -> tuple[int, bool]:
    """Applies claimed, committed events; (how many were applied, whether any queued a
    donor email)."""
    applied, emails, soonest_retry = 0, False, None
    renew_every = current_app.config["STRIPE_EVENT_CLAIM_EXPIRES_SECONDS"] / 3
    renewed_at = time.monotonic()
    for position, event_id in enumerate(event_ids):
        event = events.load_claimed(event_id)
        if event is None:  # swept and taken by another worker meanwhile
            db.session.rollback()
            continue
        attempts, received_at = event.attempts, event.received_at
        try:
            with db.session.begin_nested():  # a failure undoes this event's writes only
                apply_event(event.payload)
            events.mark_applied(event)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            db.session.info.pop(EMAILS_QUEUED, None)  # rolled back with the rest
            delay = _retry_later(event_id, attempts, exc, received_at)
            db.session.commit()
            if delay is not None and (soonest_retry is None or delay < soonest_retry):
                soonest_retry = delay
        else:
            applied += 1
        emails = db.session.info.pop(EMAILS_QUEUED, False) or emails
        if time.monotonic() - renewed_at >= renew_every:  # slow Stripe calls: still ours
            events.renew_event_claims(event_ids[position + 1:])
            db.session.commit()
            renewed_at = time.monotonic()
    if soonest_retry is not None:  # one later run for the batch, not one per event
        outbox.request_in(apply_events, soonest_retry)
    return applied, emails


def _retry_later(event_id: str, attempts: int, exc: Exception,
                 received_at: datetime) -> float | None:
    """Gives the event back for a retry after its backoff, or after
    DONATION_EVENT_MAX_ATTEMPTS tries fails it; the error kept names no person.

    News of a payment the ledger does not hold yet (NotYetKnown) waits for it: the
    payment's own event is usually a few places behind in the queue, so it is looked at
    again within seconds, and given up only once it has waited NOT_YET_KNOWN_GIVE_UP."""
    error = describe_error(exc)
    log.warning("stripe event %s not applied (try %d): %s", event_id, attempts, error)
    waiting = isinstance(exc, NotYetKnown) and utcnow() - received_at < NOT_YET_KNOWN_GIVE_UP
    if attempts >= current_app.config["DONATION_EVENT_MAX_ATTEMPTS"] and not waiting:
        events.fail_event(event_id, error)
        return None
    delay = backoff_seconds(attempts)
    if isinstance(exc, NotYetKnown):
        delay = min(delay, NOT_YET_KNOWN_WAIT_SECONDS)
    events.release_event(event_id, error, utcnow() + timedelta(seconds=delay))
    return delay


@shared_task(name=events.SWEEP_EVENTS)
def sweep_events() -> int:
    """Makes pending again the events whose worker died, and asks for a run when any are
    due (their run's message was lost, their worker died, or their retry's wait is over)."""
    with watched_drain(sweep_events.name):
        abandoned = events.requeue_abandoned_events(claim_expires=timedelta(
            seconds=current_app.config["STRIPE_EVENT_CLAIM_EXPIRES_SECONDS"]))
        db.session.commit()
        if abandoned:
            log.warning("%d stripe events claimed by a stopped worker are pending again",
                        abandoned)
        due = events.events_due()
        db.session.commit()
        if abandoned:
            # A worker died: the "run requested" flag may be its own, for a message it
            # held unstarted (redelivered only after the broker's visibility timeout), so
            # the run is queued past the flag.
            outbox.enqueue(apply_events)
        elif due:
            outbox.request_run(apply_events)
        return due
