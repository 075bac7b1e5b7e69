"""A letter's delivery state: claiming it for sending, and every status change after.

Every change happens under a row lock or as a conditional update, so two copies of a
delivery task (a redelivered message, the sweep, a retry) never both send a letter.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import joinedload

from campaign.common.sql import upsert_insert
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters.models import (
    BatchStatus,
    Channel,
    FallbackBatch,
    Letter,
    LetterEvent,
    LetterSettings,
    LetterStatus,
    OverCap,
)
from campaign.supporters.models import Action
from campaign.targets.models import Target

CAP_WINDOW = timedelta(hours=1)


def record_event(letter: Letter, status: str, detail: str = "") -> None:
    """Sets the letter's status and adds it to the letter's history."""
    letter.status = status
    db.session.add(LetterEvent(letter_id=letter.id, status=status, channel=letter.channel,
                               detail=detail[:500], at=utcnow()))


class Claim(enum.Enum):
    SEND = "send"  # claimed: send it now
    DONE = "done"  # gone, finished, or someone else holds it
    NOT_DUE = "not due"  # waiting for a retry's backoff or a slot under the cap
    OVER_CAP = "over cap"  # the target's hourly cap is full: wait until `until`
    DIGEST = "digest"  # over the cap; it will travel in the office's next digest
    FALLBACK = "fallback"  # no email for this target: put in the fallback batch


@dataclass(frozen=True)
class ClaimResult:
    outcome: Claim
    letter: Letter | None = None
    until: datetime | None = None


def claim_letter(letter_id: int, settings_for: Callable[[int], LetterSettings], *,
                 claim_expires: timedelta) -> ClaimResult:
    """Takes a letter for sending, under the target's hourly cap.

    The target's row is locked while the cap is counted, so concurrent workers can't
    both take the last slot. A claim older than `claim_expires` belonged to a worker
    that died and is taken over. The caller commits before sending.
    """
    now = utcnow()
    # One statement locks the letter and its target and loads what the email needs; the
    # row values are read after the locks are granted, so they are current.
    row = db.session.execute(
        select(Letter, Target).join(Target, Letter.target_id == Target.id)
        .where(Letter.id == letter_id)
        .options(joinedload(Letter.action, innerjoin=True)
                 .joinedload(Action.supporter, innerjoin=True))
        .with_for_update(of=(Letter.__table__, Target.__table__))
        .execution_options(populate_existing=True)).one_or_none()
    if row is None:
        return ClaimResult(Claim.DONE)
    letter, target = row
    is_takeover = (letter.status == LetterStatus.SENDING.value and letter.claimed_at
                   is not None and letter.claimed_at < now - claim_expires)
    if letter.status != LetterStatus.QUEUED.value and not is_takeover:
        return ClaimResult(Claim.DONE, letter)
    if letter.channel == Channel.DIGEST.value:
        if is_takeover:  # its digest died with its worker; the next digest takes it
            letter.digest_id = None
            record_event(letter, LetterStatus.QUEUED.value,
                         "digest interrupted; queued again")
        return ClaimResult(Claim.DONE, letter)
    if letter.next_attempt_at is not None and letter.next_attempt_at > now:
        return ClaimResult(Claim.NOT_DUE, letter, letter.next_attempt_at)
    if not target.email or letter.channel == Channel.FALLBACK.value:
        move_to_fallback(letter, "no email address for this target")
        return ClaimResult(Claim.FALLBACK, letter)

    settings = settings_for(letter.action_page_id)
    window = db.session.execute(
        select(func.count(), func.min(Letter.claimed_at))
        .where(Letter.target_id == letter.target_id,
               Letter.channel == Channel.EMAIL.value,
               Letter.status.in_((LetterStatus.SENDING.value, LetterStatus.SENT.value)),
               Letter.claimed_at > now - CAP_WINDOW)).one()
    if window[0] >= settings.target_hourly_cap:
        if settings.over_cap == OverCap.DIGEST.value:
            letter.channel = Channel.DIGEST.value
            letter.next_attempt_at = None
            record_event(letter, LetterStatus.QUEUED.value,
                         "over the office's hourly cap: will go in a digest")
            return ClaimResult(Claim.DIGEST, letter)
        until = window[1] + CAP_WINDOW
        letter.next_attempt_at = until
        if letter.status != LetterStatus.QUEUED.value:
            record_event(letter, LetterStatus.QUEUED.value,
                         "waiting for the office's hourly cap")
        return ClaimResult(Claim.OVER_CAP, letter, until)

    letter.claimed_at = now
    letter.attempts += 1
    letter.next_attempt_at = None
    record_event(letter, LetterStatus.SENDING.value,
                 "taken over from a stopped worker" if is_takeover else "")
    return ClaimResult(Claim.SEND, letter)


def mark_sent(letter_id: int) -> None:
    """Records the send by id, in two statements: after the claim's commit the letter's
    loaded state is expired, and reloading it only to change it would cost a query."""
    now = utcnow()
    channel = db.session.execute(
        update(Letter).where(Letter.id == letter_id)
        .values(status=LetterStatus.SENT.value, sent_at=now, last_error="")
        .returning(Letter.channel)
        .execution_options(synchronize_session=False)).scalar_one()
    db.session.execute(insert(LetterEvent).values(
        letter_id=letter_id, status=LetterStatus.SENT.value, channel=channel, detail="",
        at=now))


def release_for_retry(letter: Letter, error: str, retry_at: datetime) -> None:
    """A transient failure: the letter waits for its retry, recorded as a failed attempt."""
    letter.last_error = error[:500]
    letter.next_attempt_at = retry_at
    record_event(letter, LetterStatus.FAILED.value, f"{error} (will retry)")
    record_event(letter, LetterStatus.QUEUED.value)


def move_to_fallback(letter: Letter, reason: str) -> FallbackBatch:
    """A letter email can't carry goes to its target's open batch, for print or hand
    delivery by staff."""
    if letter.channel == Channel.EMAIL.value:
        letter.last_error = reason[:500]
        record_event(letter, LetterStatus.FAILED.value, reason)
    letter.channel = Channel.FALLBACK.value
    batch = open_batch_for(letter.target_id)
    letter.fallback_batch_id = batch.id
    record_event(letter, LetterStatus.BATCHED.value, f"batch {batch.id}")
    return batch


def open_batch_for(target_id: int) -> FallbackBatch:
    where = FallbackBatch.status == BatchStatus.OPEN.value
    db.session.execute(
        upsert_insert(db.engine.dialect.name)(FallbackBatch)
        .values(target_id=target_id, status=BatchStatus.OPEN.value, created_at=utcnow(),
                delivered_note="")
        .on_conflict_do_nothing(index_elements=["target_id"], index_where=where))
    return db.session.scalars(
        select(FallbackBatch).where(FallbackBatch.target_id == target_id, where)).one()


def letters_to_requeue(*, lost_after: timedelta, claim_expires: timedelta,
                       limit: int = 5000) -> list[int]:
    """Letters whose queue message was lost (Redis restarted) or whose worker died."""
    now = utcnow()
    return list(db.session.scalars(
        select(Letter.id)
        .where(or_(
            and_(Letter.status == LetterStatus.QUEUED.value,
                 Letter.channel != Channel.DIGEST.value,
                 func.coalesce(Letter.next_attempt_at, Letter.created_at) < now - lost_after),
            and_(Letter.status == LetterStatus.SENDING.value,
                 Letter.claimed_at < now - claim_expires)))
        .order_by(Letter.id).limit(limit)))


def mark_batch_delivered(batch_id: int, note: str = "") -> FallbackBatch:
    """Staff handed the batch over: every letter in it is delivered. Flushes."""
    batch = db.session.get(FallbackBatch, batch_id, with_for_update=True)
    if batch is None:
        raise LookupError(f"no fallback batch {batch_id}")
    if batch.status == BatchStatus.DELIVERED.value:
        return batch
    batch.status = BatchStatus.DELIVERED.value
    batch.delivered_at = utcnow()
    batch.delivered_note = note[:500]
    for letter in batch.letters:
        record_event(letter, LetterStatus.DELIVERED.value, note or f"batch {batch.id} delivered")
    db.session.flush()
    return batch


@dataclass(frozen=True)
class BatchRow:
    batch: FallbackBatch
    target: Target
    letters: int


def open_batch_rows() -> list[BatchRow]:
    """The open fallback batches, oldest first, each with its target and letter count."""
    rows = db.session.execute(
        select(FallbackBatch, Target, func.count(Letter.id))
        .join(Target, Target.id == FallbackBatch.target_id)
        .outerjoin(Letter, Letter.fallback_batch_id == FallbackBatch.id)
        .where(FallbackBatch.status == BatchStatus.OPEN.value)
        .group_by(FallbackBatch.id, Target.id).order_by(FallbackBatch.id))
    return [BatchRow(batch, target, count) for batch, target, count in rows]
