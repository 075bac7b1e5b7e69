"""Tasks for donations: the donor emails (receipts, tribute notices, dunning, gift ended,
statements) and their sweep."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from campaign import outbox
from campaign.common.errors import describe_error
from campaign.common.types import utcnow
from campaign.donations import mailer
from campaign.donations.donor_emails import DONOR_EMAILS_DRAIN
from campaign.donations.emails import NothingToSend, build_donor_email
from campaign.extensions import db
from campaign.health.drains import watched_drain
from workers.retry import failure_reason, jittered_backoff

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 9  # the first try and eight retries, as the thank-yous
BATCH_SIZE = 50


def backoff_seconds(attempts: int) -> float:
    """10 s, 20 s, 40 s ... capped at 10 minutes, with jitter."""
    return jittered_backoff(attempts - 1, base=10, cap=600)


@shared_task(name=DONOR_EMAILS_DRAIN)
def send_donor_emails() -> int:
    """Sends every donor email that is due, in batches, each once.

    A batch is claimed and committed before anything is sent, and each email's outcome
    is committed the moment the mail server has answered, so a second run finds the
    emails taken or done, and a worker killed mid-batch sends again at most the one
    email it was sending. No one-email-a-day cap, unlike the thank-yous: a receipt for
    every charge is a financial record (campaign.donations.mailer).
    """
    outbox.run_started(send_donor_emails)
    with watched_drain(send_donor_emails.name):
        sent = 0
        while email_ids := mailer.claim_donor_emails(BATCH_SIZE):
            db.session.commit()
            if len(email_ids) == BATCH_SIZE:
                outbox.request_run(send_donor_emails)  # more wait: another worker may help
            sent += _send_batch(email_ids)
        db.session.commit()
        return sent


def _send_batch(email_ids: list[int]) -> int:
    # Every message is built before the first commit below expires the loaded rows.
    outgoing = []
    for row in mailer.load_donor_emails(email_ids):
        try:
            outgoing.append((row.id, row.attempts, build_donor_email(row)))
        except NothingToSend as reason:
            mailer.skip_donor_email(row.id, str(reason))
        except Exception as exc:  # unbuildable: retrying won't help, and the rest go on
            mailer.fail_donor_email(row.id, f"unbuildable: {describe_error(exc)}")
    db.session.commit()
    sent, soonest_retry = outbox.send_and_record(
        outgoing, claim_expires_seconds=current_app.config["DONOR_EMAIL_CLAIM_EXPIRES_SECONDS"],
        recording_sent=mailer.recording_donor_email_sent, fail=mailer.fail_donor_email,
        retry_later=_retry_later, renew_claims=mailer.renew_donor_email_claims)
    if soonest_retry is not None:  # one later run for the batch, not one per email
        outbox.request_in(send_donor_emails, soonest_retry)
    return sent


def _retry_later(email_id: int, attempts: int, exc: Exception) -> float | None:
    """Gives the email back for a retry after its backoff and returns that backoff; after
    MAX_ATTEMPTS, fails it. The caller commits."""
    error = failure_reason(exc)
    if attempts >= MAX_ATTEMPTS:
        mailer.fail_donor_email(email_id, error)
        return None
    delay = backoff_seconds(attempts)
    mailer.release_donor_email(email_id, error, utcnow() + timedelta(seconds=delay))
    return delay


@shared_task(name="donations.sweep_donor_emails")
def sweep_donor_emails() -> int:
    """Makes pending again the donor emails whose worker died, and asks for a run when any
    are due (a lost run message, a dead worker, a retry whose wait is over)."""
    with watched_drain(sweep_donor_emails.name):
        abandoned = mailer.requeue_abandoned_donor_emails(claim_expires=timedelta(
            seconds=current_app.config["DONOR_EMAIL_CLAIM_EXPIRES_SECONDS"]))
        db.session.commit()
        if abandoned:
            log.warning("%d donor emails claimed by a stopped worker are pending again",
                        abandoned)
        due = mailer.donor_emails_due()
        if due:
            log.info("%d donor emails due; asking for a run", due)
            outbox.request_run(send_donor_emails)
        return due
