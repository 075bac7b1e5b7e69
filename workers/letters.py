"""Tasks that deliver letters: the batched delivery run, the sweep, and the offices'
digests."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import Message

from celery import shared_task
from flask import current_app

from campaign.common.types import utcnow
from campaign.extensions import (
    db,
    drain_started,
    request_drain,
    request_drain_in,
    request_drain_soon,
)
from campaign.letters import delivery, digests, services
from campaign.letters.emails import build_digest_message, build_letter_message
from campaign.letters.models import Letter
from campaign.mail.transport import PermanentMailError, TransientMailError, current_transport
from workers.retry import jittered_backoff

log = logging.getLogger(__name__)


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def backoff_seconds(retries: int) -> float:
    """From LETTER_RETRY_BASE_SECONDS, doubling, capped at an hour, with jitter."""
    return jittered_backoff(retries, base=current_app.config["LETTER_RETRY_BASE_SECONDS"],
                            cap=3600.0)


BATCH_SIZE = 50
# `sent` is recorded this many letters at a time: a worker killed mid-batch sends again
# at most the letters it had sent and not yet recorded.
RECORD_SENT_EVERY = 5


def request_letter_delivery() -> None:
    """After the commit of new letters: asks a worker to deliver what is due."""
    request_drain(deliver_letters)


def request_letter_delivery_soon() -> None:
    """request_letter_delivery, for a web request: asked within a moment, once for many."""
    request_drain_soon(deliver_letters)


@shared_task(name="letters.deliver")
def deliver_letters() -> int:
    """Delivers every letter that is due, in batches, each once: by email, or into its
    target's fallback batch.

    A batch is claimed and committed before anything is sent, and what happened to each
    letter is committed with its new status, so a second run (a redelivered message, the
    sweep, a retry) finds the letters taken or done and sends nothing twice.
    """
    drain_started(deliver_letters)
    sent = 0
    while True:
        claimed = delivery.claim_letters(BATCH_SIZE, services.get_settings)
        # Built before the commit, while the rows the claim loaded are still fresh.
        outgoing = []
        for letter in claimed.to_send:
            try:
                outgoing.append((letter.id, letter.attempts, build_letter_message(letter)))
            except ValueError as exc:  # an address no header can carry: retrying won't help
                delivery.move_to_fallback(letter, str(exc))
        db.session.commit()
        if claimed.wait_until is not None:
            request_drain_in(deliver_letters, (claimed.wait_until - utcnow()).total_seconds())
        if not claimed.examined:
            return sent
        if claimed.examined == BATCH_SIZE:
            request_letter_delivery()  # more are waiting: another worker may share them
        sent += _send(outgoing)


def _send(outgoing: list[tuple[int, int, Message]]) -> int:
    transport = current_transport()
    delivered: list[int] = []
    sent = 0
    soonest_retry: float | None = None

    def record_delivered(still_to_send: list[int]) -> None:
        delivery.mark_sent(delivered)
        # A batch can take a while against a slow mail server: renewing the claims of the
        # letters still to send keeps the sweep from taking them over from a live worker.
        delivery.renew_claims(still_to_send)
        db.session.commit()
        delivered.clear()

    for position, (letter_id, attempts, message) in enumerate(outgoing):
        rest = [item[0] for item in outgoing[position + 1:]]
        try:
            transport.send(message)
        except TransientMailError as exc:
            record_delivered(rest)
            delay = _retry_later(letter_id, attempts, str(exc))
            if delay is not None and (soonest_retry is None or delay < soonest_retry):
                soonest_retry = delay
        except PermanentMailError as exc:
            record_delivered(rest)
            delivery.move_to_fallback(db.session.get(Letter, letter_id), str(exc))
            db.session.commit()
        else:
            sent += 1
            delivered.append(letter_id)
            if len(delivered) >= RECORD_SENT_EVERY:
                record_delivered(rest)
    record_delivered([])
    if soonest_retry is not None:  # one later run for the batch, not one per letter
        request_drain_in(deliver_letters, soonest_retry)
    return sent


def _retry_later(letter_id: int, attempts: int, error: str) -> float | None:
    """Gives the letter back for a retry after its backoff, and returns that backoff; or,
    past LETTER_MAX_RETRIES, files it for the fallback channel."""
    delay = None
    if attempts > current_app.config["LETTER_MAX_RETRIES"]:
        delivery.move_to_fallback(db.session.get(Letter, letter_id),
                                  f"gave up after {attempts} attempts: {error}")
    else:
        delay = backoff_seconds(attempts - 1)
        delivery.release_for_retry(letter_id, error, utcnow() + timedelta(seconds=delay))
    db.session.commit()
    return delay


@shared_task(name="letters.sweep")
def sweep_letters() -> int:
    """Queues again the letters whose worker died, and asks for a delivery run when
    letters are due: their run's message was lost (Redis restarted), their worker died,
    or their retry or wait under the cap is over."""
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
