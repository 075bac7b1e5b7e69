"""Tasks for supporters: the thank-you emails and their sweep."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from flask import current_app

from campaign.common.errors import describe_error
from campaign.common.types import utcnow
from campaign.extensions import (
    db,
    drain_started,
    request_drain,
    request_drain_in,
    request_drain_soon,
)
from campaign.health.drains import watched_drain
from campaign.mail.transport import PermanentMailError, current_transport
from campaign.supporters import services
from campaign.supporters.thanks import build_thank_you, receipt_kinds
from workers.retry import failure_reason, jittered_backoff

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 9  # the first try and eight retries
BATCH_SIZE = 50


def backoff_seconds(attempts: int) -> float:
    """10 s, 20 s, 40 s ... capped at 10 minutes, with jitter."""
    return jittered_backoff(attempts - 1, base=10, cap=600)


def request_thank_yous() -> None:
    """After the commit of new actions: asks a worker to send what is due."""
    request_drain(send_thank_yous)


def request_thank_yous_soon() -> None:
    """request_thank_yous, for a web request: asked within a moment, once for many."""
    request_drain_soon(send_thank_yous)


@shared_task(name="supporters.send_thank_yous")
def send_thank_yous() -> int:
    """Sends every thank-you email that is due, in batches, each once.

    A batch is claimed and committed before anything is sent, and each outcome is
    committed with the email's new status the moment the mail server has answered, so a
    second run (a redelivered message, the sweep) finds the emails taken or done and
    sends nothing twice, and a worker killed mid-batch sends again at most the one email
    it was sending.
    """
    drain_started(send_thank_yous)
    with watched_drain(send_thank_yous.name):
        sent = 0
        # One email a day per address, decided in the claim: receipts beyond it wait a day,
        # other thank-yous and notices are skipped.
        while action_ids := services.claim_thank_yous(BATCH_SIZE, receipt_kinds()):
            db.session.commit()
            if len(action_ids) == BATCH_SIZE:
                request_thank_yous()  # more are waiting: another worker may share them
            sent += _send_batch(action_ids)
        db.session.commit()
        return sent


def _send_batch(action_ids: list[int]) -> int:
    # Every message is built before the first commit below expires the loaded rows.
    outgoing = []
    for action in services.load_actions(action_ids):
        try:
            outgoing.append((action.id, action.thank_you_attempts, build_thank_you(action)))
        except Exception as exc:  # unbuildable: retrying won't help, and the rest go on
            services.fail_thank_you(action.id, f"unbuildable: {describe_error(exc)}")
    db.session.commit()
    sent = 0
    renew_every = current_app.config["THANK_YOU_CLAIM_EXPIRES_SECONDS"] / 3
    renewed_at = time.monotonic()
    with services.recording_thank_you_sent() as record_sent:
        for position, (action_id, attempts, message) in enumerate(outgoing):
            try:
                current_transport().send(message)
            except PermanentMailError as exc:
                services.fail_thank_you(action_id, str(exc))
            except Exception as exc:  # TransientMailError, and anything unforeseen: retry
                _retry_later(action_id, attempts, failure_reason(exc))
            else:
                record_sent(action_id)  # committed the moment the server took it
                sent += 1
            if time.monotonic() - renewed_at >= renew_every:  # a slow server: still ours
                services.renew_thank_you_claims([item[0] for item in outgoing[position + 1:]])
                renewed_at = time.monotonic()
            if db.session().in_transaction():  # what the other paths changed
                db.session.commit()
    return sent


def _retry_later(action_id: int, attempts: int, error: str) -> None:
    if attempts >= MAX_ATTEMPTS:
        services.fail_thank_you(action_id, error)
        return
    delay = backoff_seconds(attempts)
    services.release_thank_you(action_id, error, utcnow() + timedelta(seconds=delay))
    request_drain_in(send_thank_yous, delay)


@shared_task(name="supporters.sweep_thank_yous")
def sweep_thank_yous() -> int:
    """Makes pending again the thank-yous whose worker died, and asks for a run when any
    are due: their run's message was lost (Redis was down or restarted), their worker
    died, or their retry's wait is over."""
    with watched_drain(sweep_thank_yous.name):
        abandoned = services.requeue_abandoned_thank_yous(claim_expires=timedelta(
            seconds=current_app.config["THANK_YOU_CLAIM_EXPIRES_SECONDS"]))
        db.session.commit()
        if abandoned:
            log.warning("%d thank-you emails claimed by a stopped worker are pending again",
                        abandoned)
        due = services.thank_yous_due()
        if due:
            log.info("%d thank-you emails due; asking for a run", due)
            request_thank_yous()
        return due
