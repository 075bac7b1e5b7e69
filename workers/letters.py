"""Tasks that deliver letters: the batched delivery run, the sweep, and the offices'
digests."""

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
from campaign.letters import delivery, digests, services
from campaign.letters.emails import build_digest_message, build_letter_message
from campaign.letters.models import Letter
from campaign.mail.transport import PermanentMailError, TransientMailError, current_transport
from campaign.outbox import Outgoing
from workers.retry import failure_reason, jittered_backoff

log = logging.getLogger(__name__)


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def backoff_seconds(retries: int) -> float:
    """From LETTER_RETRY_BASE_SECONDS, doubling, capped at an hour, with jitter."""
    return jittered_backoff(retries, base=current_app.config["LETTER_RETRY_BASE_SECONDS"],
                            cap=3600.0)


BATCH_SIZE = 50


def request_letter_delivery() -> None:
    """After the commit of new letters: asks a worker to deliver what is due."""
    outbox.request_run("letters.deliver")


@shared_task(name="letters.deliver")
def deliver_letters() -> int:
    """Delivers every letter that is due, in batches, each once: by email, or into its
    target's fallback batch.

    A batch is claimed and committed before anything is sent, and each letter's outcome
    is committed the moment the mail server has answered, so a second run (a redelivered
    message, the sweep, a retry) finds the letters taken or done, and a worker killed
    mid-batch sends again at most the one letter it was sending.
    """
    outbox.run_started(deliver_letters)
    with watched_drain(deliver_letters.name):
        sent = 0
        while True:
            claimed, outgoing = _claim_batch()
            if claimed.wait_until is not None:
                outbox.request_in(deliver_letters,
                                  (claimed.wait_until - utcnow()).total_seconds())
            if not claimed.examined:
                return sent
            if claimed.examined == BATCH_SIZE:
                request_letter_delivery()  # more are waiting: another worker may share them
            sent += _send(outgoing)


def _claim_batch() -> tuple[delivery.ClaimedLetters, Outgoing]:
    """Claims and commits the next batch, with each claimed letter's email. If the batch
    fails as a whole, it is claimed again letter by letter, so that a letter that cannot
    be handled is recorded as failed and the rest go on."""
    try:
        return _claim_and_build(isolate=False)
    except Exception as exc:
        db.session.rollback()
        log.error("a letter in the batch could not be handled (%s); claiming one by one",
                  describe_error(exc))
        return _claim_and_build(isolate=True)


def _claim_and_build(*, isolate: bool) -> tuple[delivery.ClaimedLetters, Outgoing]:
    claimed = delivery.claim_letters(BATCH_SIZE, services.get_settings, isolate=isolate)
    # Built before the commit, while the rows the claim loaded are still fresh.
    outgoing = []
    for letter in claimed.to_send:
        try:
            outgoing.append((letter.id, letter.attempts, build_letter_message(letter)))
        except ValueError as exc:  # an address no header can carry: retrying won't help
            delivery.move_to_fallback(letter, str(exc))
        except Exception as exc:
            if not isolate:
                raise
            delivery.fail_letter(letter, f"could not be written: {describe_error(exc)}")
    db.session.commit()
    return claimed, outgoing


def _send(outgoing: Outgoing) -> int:
    sent, soonest_retry = outbox.send_and_record(
        outgoing, claim_expires_seconds=current_app.config["LETTER_CLAIM_EXPIRES_SECONDS"],
        recording_sent=delivery.recording_sent,
        fail=lambda letter_id, reason: delivery.move_to_fallback(
            db.session.get(Letter, letter_id), reason),
        retry_later=_retry_later, renew_claims=delivery.renew_claims)
    if soonest_retry is not None:  # one later run for the batch, not one per letter
        outbox.request_in(deliver_letters, soonest_retry)
    return sent


def _retry_later(letter_id: int, attempts: int, exc: Exception) -> float | None:
    """Gives the letter back for a retry after its backoff, and returns that backoff; or,
    past LETTER_MAX_RETRIES, files it for the fallback channel. The caller commits."""
    error = failure_reason(exc)
    delay = None
    if attempts > current_app.config["LETTER_MAX_RETRIES"]:
        delivery.move_to_fallback(db.session.get(Letter, letter_id),
                                  f"gave up after {attempts} attempts: {error}")
    else:
        delay = backoff_seconds(attempts - 1)
        delivery.release_for_retry(letter_id, error, utcnow() + timedelta(seconds=delay))
    return delay


@shared_task(name="letters.sweep")
def sweep_letters() -> int:
    """Queues again the letters whose worker died, and asks for a delivery run when
    letters are due: their run's message was lost (Redis restarted), their worker died,
    or their retry or wait under the cap is over."""
    with watched_drain(sweep_letters.name):
        abandoned = delivery.requeue_abandoned(
            claim_expires=_seconds("LETTER_CLAIM_EXPIRES_SECONDS"))
        db.session.commit()
        if abandoned:
            log.warning("%d letters claimed by a stopped worker queued again", abandoned)
        due = delivery.letters_due()
        if due:
            log.info("%d letters due; asking for a delivery run", due)
            request_letter_delivery()
        return due


@shared_task(name="letters.send_digests")
def send_digests() -> int:
    """Sends each office one email with the letters waiting over its hourly cap. An office
    whose digest cannot be handled is left for the sweep and the next run; the others
    go on, and the run is then recorded as failed."""
    with watched_drain(send_digests.name):
        sent, errors = 0, []
        for target_id in digests.targets_with_waiting_digest_letters():
            try:
                sent += _send_digest(target_id)
            except Exception as exc:
                db.session.rollback()
                errors.append(describe_error(exc))
        if errors:
            raise DigestsFailed(f"{len(errors)} digests failed; the first: {errors[0]}")
        return sent


class DigestsFailed(RuntimeError):
    pass


def _send_digest(target_id: int) -> int:
    digest = digests.claim_digest(target_id)
    db.session.commit()
    if digest is None:
        return 0
    letters = digests.digest_letters(digest)
    try:
        current_transport().send(
            build_digest_message(digest, digests.digest_target(digest), letters))
    except TransientMailError as exc:
        digests.release_digest(digest, str(exc))
    except (PermanentMailError, ValueError) as exc:
        digests.digest_to_fallback(digest, str(exc))
    else:
        digests.mark_digest_sent(digest)
        db.session.commit()
        return 1
    db.session.commit()
    return 0
