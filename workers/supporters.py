"""Tasks for supporters: the thank-you emails and their sweep."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from campaign import outbox
from campaign.common.errors import describe_error
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.health.drains import watched_drain
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
    outbox.request_run("supporters.send_thank_yous")


@shared_task(name="supporters.send_thank_yous")
def send_thank_yous() -> int:
    """Sends every thank-you email that is due, in batches, each once.

    A batch is claimed and committed before anything is sent, and each outcome is
    committed with the email's new status the moment the mail server has answered, so a
    second run (a redelivered message, the sweep) finds the emails taken or done and
    sends nothing twice, and a worker killed mid-batch sends again at most the one email
    it was sending.
    """
    outbox.run_started(send_thank_yous)
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
    sent, soonest_retry = outbox.send_and_record(
        outgoing, claim_expires_seconds=current_app.config["THANK_YOU_CLAIM_EXPIRES_SECONDS"],
        recording_sent=services.recording_thank_you_sent,
        fail=services.fail_thank_you,
        retry_later=_retry_later, renew_claims=services.renew_thank_you_claims)
    if soonest_retry is not None:  # one later run for the batch, not one per email
        outbox.request_in(send_thank_yous, soonest_retry)
    return sent


def _retry_later(action_id: int, attempts: int, exc: Exception) -> float | None:
    """Gives the email back for a retry after its backoff and returns that backoff; after
    MAX_ATTEMPTS, fails it. The caller commits."""
    error = failure_reason(exc)
    if attempts >= MAX_ATTEMPTS:
        services.fail_thank_you(action_id, error)
        return None
    delay = backoff_seconds(attempts)
    services.release_thank_you(action_id, error, utcnow() + timedelta(seconds=delay))
    return delay


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
