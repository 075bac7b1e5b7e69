"""Tasks that deliver letters: one letter, the sweep, and the offices' digests."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from campaign.common.types import utcnow
from campaign.extensions import db, enqueue
from campaign.letters import delivery, digests, services
from campaign.letters.delivery import Claim
from campaign.letters.emails import build_digest_message, build_letter_message
from campaign.mail.transport import PermanentMailError, TransientMailError, current_transport
from workers.retry import jittered_backoff

log = logging.getLogger(__name__)


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def backoff_seconds(retries: int) -> float:
    """From LETTER_RETRY_BASE_SECONDS, doubling, capped at an hour, with jitter."""
    return jittered_backoff(retries, base=current_app.config["LETTER_RETRY_BASE_SECONDS"],
                            cap=3600.0)


def _later(letter_id: int, seconds: float) -> None:
    # In-process mode would run a "later" task at once and loop; there the sweep
    # (`flask letters sweep`) picks the letter up when it is due.
    if not current_app.extensions["celery"].conf.task_always_eager:
        enqueue(deliver_letter, letter_id, countdown=max(1.0, seconds))


@shared_task(name="letters.deliver", bind=True, max_retries=None)
def deliver_letter(self, letter_id: int) -> str:
    """Delivers one letter by email, once; or files it in its target's fallback batch.

    The claim is committed before sending, and the outcome is committed with the letter's
    new status, so a second copy of this task finds the letter taken and stops.
    """
    result = delivery.claim_letter(letter_id, services.get_settings,
                                   claim_expires=_seconds("LETTER_CLAIM_EXPIRES_SECONDS"))
    letter = result.letter
    if result.outcome is Claim.SEND:
        # Built before the commit, while the rows the claim loaded are still fresh.
        try:
            message = build_letter_message(letter)
        except ValueError as exc:  # an address the email package refuses: retrying won't help
            delivery.move_to_fallback(letter, str(exc))
            db.session.commit()
            return "fallback"
    db.session.commit()
    if result.outcome in (Claim.NOT_DUE, Claim.OVER_CAP):
        _later(letter_id, (result.until - utcnow()).total_seconds())
    if result.outcome is not Claim.SEND:
        return result.outcome.value
    try:
        current_transport().send(message)
    except TransientMailError as exc:
        retries = self.request.retries
        if retries >= current_app.config["LETTER_MAX_RETRIES"]:
            delivery.move_to_fallback(letter, f"gave up after {letter.attempts} attempts: {exc}")
            db.session.commit()
            return "fallback"
        delay = backoff_seconds(retries)
        delivery.release_for_retry(letter, str(exc), utcnow() + timedelta(seconds=delay))
        db.session.commit()
        raise self.retry(exc=exc, countdown=delay)
    except PermanentMailError as exc:
        delivery.move_to_fallback(letter, str(exc))
        db.session.commit()
        return "fallback"
    delivery.mark_sent(letter_id)
    db.session.commit()
    return "sent"


@shared_task(name="letters.sweep")
def sweep_letters() -> int:
    """Re-queues letters that a lost broker message or a killed worker left behind."""
    letter_ids = delivery.letters_to_requeue(
        lost_after=_seconds("LETTER_REQUEUE_AFTER_SECONDS"),
        claim_expires=_seconds("LETTER_CLAIM_EXPIRES_SECONDS"))
    for letter_id in letter_ids:
        enqueue(deliver_letter, letter_id)
    if letter_ids:
        log.info("re-queued %d letters", len(letter_ids))
    return len(letter_ids)


@shared_task(name="letters.send_digests")
def send_digests() -> int:
    """Sends each office one email with the letters waiting over its hourly cap."""
    sent = 0
    for target_id in digests.targets_with_waiting_digest_letters():
        digest = digests.claim_digest(target_id)
        db.session.commit()
        if digest is None:
            continue
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
            sent += 1
        db.session.commit()
    return sent
