"""A letter's delivery state: claiming it for sending, and every status change after.

Every change happens under a row lock or as a conditional update, so two copies of a
delivery task (a redelivered message, the sweep, a retry) never both send a letter.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.orm import joinedload

from campaign.common.errors import describe_error
from campaign.common.sql import committing_each, constant, upsert_insert
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters.models import (
    BatchStatus,
    CapWindow,
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
T = TypeVar("T")


def record_event(letter: Letter, status: str, detail: str = "") -> None:
    """Sets the letter's status and adds it to the letter's history."""
    letter.status = status
    db.session.add(LetterEvent(letter_id=letter.id, status=status, channel=letter.channel,
                               detail=detail[:500], at=utcnow()))


def _due(now: datetime):
    # A constant, not a parameter: ix_letters_queued is partial (campaign.common.sql.constant).
    return and_(Letter.status == constant(LetterStatus.QUEUED.value),
                Letter.channel != Channel.DIGEST.value,  # those wait for their digest
                or_(Letter.next_attempt_at.is_(None), Letter.next_attempt_at <= now))


@dataclass
class ClaimedLetters:
    examined: int  # due letters this claim locked and dealt with
    to_send: list[Letter] = field(default_factory=list)  # claimed: send these now
    wait_until: datetime | None = None  # the soonest a letter held back may go


def claim_letters(limit: int, settings_for: Callable[[int], LetterSettings], *,
                  isolate: bool = False) -> ClaimedLetters:
    """Takes up to `limit` of the oldest due letters for sending, under each target's
    hourly cap.

    Letters another worker holds are skipped (SKIP LOCKED), so two workers never take
    the same letter. Letters without an email go to their target's fallback batch,
    letters over the cap wait or join a digest. The returned letters are loaded with
    their target and supporter, as their emails need them. The caller commits before
    sending.

    With `isolate`, each letter is dealt with in a savepoint of its own, and a letter that
    cannot be dealt with is recorded as failed, with the reason, while the rest go on:
    the caller's second try after the batch as a whole failed (one bad letter must not
    hold back every letter behind it, run after run).
    """
    now = utcnow()
    picked = (select(Letter.id).where(_due(now)).order_by(Letter.id).limit(limit)
              .with_for_update(skip_locked=True))
    rows = db.session.execute(
        select(Letter, Target).join(Target, Letter.target_id == Target.id)
        .where(Letter.id.in_(picked.scalar_subquery()))
        .options(joinedload(Letter.action, innerjoin=True)
                 .joinedload(Action.supporter, innerjoin=True))
        .order_by(Letter.id)
        # Already ours; locking again makes this read the rows as locked, not as the
        # statement's snapshot had them.
        .with_for_update(of=Letter.__table__)
        .execution_options(populate_existing=True)).all()
    claimed = ClaimedLetters(examined=len(rows))
    candidates = []
    for letter, target in rows:
        if not target.email or letter.channel == Channel.FALLBACK.value:
            _deal_with(letter, isolate, lambda letter=letter: move_to_fallback(
                letter, "no email address for this target"))
        else:
            candidates.append(letter)

    windows = _cap_windows(sorted({letter.target_id for letter in candidates}), now)
    # Held here for the whole batch: the session keeps loaded rows only while something
    # refers to them, and a settings row looked up again for every letter cost a SELECT
    # (with an autoflush) each, 1.7 ms a letter (bench/letters.py).
    settings: dict[int, LetterSettings] = {}
    for letter in candidates:
        if _deal_with(letter, isolate, lambda letter=letter: _claim_under_cap(
                letter, _settings_of(letter.action_page_id, settings, settings_for),
                windows[letter.target_id], now, claimed)):
            claimed.to_send.append(letter)
    db.session.flush()
    return claimed


def _settings_of(page_id: int, known: dict[int, LetterSettings],
                 settings_for: Callable[[int], LetterSettings]) -> LetterSettings:
    if page_id not in known:
        known[page_id] = settings_for(page_id)
    return known[page_id]


def _claim_under_cap(letter: Letter, settings: LetterSettings, window: CapWindow,
                     now: datetime, claimed: ClaimedLetters) -> bool:
    """Claims the letter for sending (True) or holds it back under its office's cap."""
    if window.letters >= settings.target_hourly_cap:
        if settings.over_cap == OverCap.DIGEST.value:
            letter.channel = Channel.DIGEST.value
            letter.next_attempt_at = None
            record_event(letter, LetterStatus.QUEUED.value,
                         "over the office's hourly cap: will go in a digest")
            return False
        until = window.started_at + CAP_WINDOW
        if letter.next_attempt_at != until:
            letter.next_attempt_at = until
            record_event(letter, LetterStatus.QUEUED.value,
                         "waiting for the office's hourly cap")
        if claimed.wait_until is None or until < claimed.wait_until:
            claimed.wait_until = until
        return False
    window.letters += 1
    letter.claimed_at = now
    letter.attempts += 1
    letter.next_attempt_at = None
    record_event(letter, LetterStatus.SENDING.value)
    return True


def _deal_with(letter: Letter, isolate: bool, action: Callable[[], T]) -> T | None:
    """`action()`'s result; with `isolate`, run in a savepoint, and if it fails the letter
    is recorded as failed and the result is None."""
    if not isolate:
        return action()
    try:
        with db.session.begin_nested():
            result = action()
            db.session.flush()
        return result
    except Exception as exc:  # whatever it was, it is this letter's alone
        fail_letter(letter, f"could not be handled: {describe_error(exc)}")
        return None


def fail_letter(letter: Letter, reason: str) -> None:
    """Gives up on a letter that cannot be delivered or filed: failed, with the reason,
    for staff to see. Flushes."""
    letter.last_error = reason[:500]
    letter.next_attempt_at = None
    record_event(letter, LetterStatus.FAILED.value, reason)
    db.session.flush()


def _cap_windows(target_ids: list[int], now: datetime) -> dict[int, CapWindow]:
    """The targets' cap windows, locked in id order (so workers never wait on each other
    in a circle), a new hour begun where the last one is over."""
    if not target_ids:
        return {}
    db.session.execute(
        upsert_insert(db.engine.dialect.name)(CapWindow)
        .values([{"target_id": target_id, "started_at": None, "letters": 0}
                 for target_id in target_ids])
        .on_conflict_do_nothing(index_elements=["target_id"]))
    windows = {window.target_id: window for window in db.session.scalars(
        select(CapWindow).where(CapWindow.target_id.in_(target_ids))
        .order_by(CapWindow.target_id).with_for_update()
        .execution_options(populate_existing=True))}
    for window in windows.values():
        if window.started_at is None or window.started_at <= now - CAP_WINDOW:
            window.started_at, window.letters = now, 0
    return windows


def mark_sent(letter_ids: list[int]) -> None:
    """Records that these claimed email letters went out: one UPDATE and one INSERT for
    the lot, by id (after the claim's commit the loaded letters are expired, and reloading
    them only to change them would cost a query each)."""
    if not letter_ids:
        return
    now = utcnow()
    db.session.execute(
        update(Letter).where(Letter.id.in_(letter_ids))
        .values(status=LetterStatus.SENT.value, sent_at=now, last_error="")
        .execution_options(synchronize_session=False))
    db.session.execute(insert(LetterEvent), [
        {"letter_id": letter_id, "status": LetterStatus.SENT.value,
         "channel": Channel.EMAIL.value, "detail": "", "at": now} for letter_id in letter_ids])


# A letter's `sent`, as one PostgreSQL statement: the status and its history together.
_MARK_SENT_NOW = text("""
WITH sent AS (
    UPDATE letters SET status = 'sent', sent_at = :now, last_error = '' WHERE id = :id
    RETURNING id
)
INSERT INTO letter_events (letter_id, status, channel, detail, at)
SELECT id, 'sent', 'email', '', :now FROM sent
""")


def recording_sent() -> AbstractContextManager[Callable[[int], None]]:
    """A function that records one claimed letter as sent, committed at once: called the
    moment the mail server has taken the letter, so a worker killed afterwards never
    sends it again (one statement each on PostgreSQL: campaign.common.sql.committing_each).
    """
    return committing_each(_MARK_SENT_NOW, lambda letter_id: mark_sent([letter_id]))


def renew_claims(letter_ids: list[int]) -> None:
    """Marks these claimed letters as still held by a live worker."""
    if letter_ids:
        db.session.execute(
            update(Letter).where(Letter.id.in_(letter_ids),
                                 Letter.status == constant(LetterStatus.SENDING.value))
            .values(claimed_at=utcnow()).execution_options(synchronize_session=False))


def release_for_retry(letter_id: int, error: str, retry_at: datetime) -> None:
    """A transient failure: the letter waits for its retry, recorded as a failed attempt."""
    now = utcnow()
    db.session.execute(
        update(Letter).where(Letter.id == letter_id)
        .values(status=LetterStatus.QUEUED.value, last_error=error[:500],
                next_attempt_at=retry_at)
        .execution_options(synchronize_session=False))
    db.session.execute(insert(LetterEvent), [
        {"letter_id": letter_id, "status": LetterStatus.FAILED.value,
         "channel": Channel.EMAIL.value, "detail": f"{error} (will retry)"[:500], "at": now},
        {"letter_id": letter_id, "status": LetterStatus.QUEUED.value,
         "channel": Channel.EMAIL.value, "detail": "", "at": now}])


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
    # A constant: the partial unique index's predicate must match under a generic plan.
    where = FallbackBatch.status == constant(BatchStatus.OPEN.value)
    db.session.execute(
        upsert_insert(db.engine.dialect.name)(FallbackBatch)
        .values(target_id=target_id, status=BatchStatus.OPEN.value, created_at=utcnow(),
                delivered_note="")
        .on_conflict_do_nothing(index_elements=["target_id"], index_where=where))
    return db.session.scalars(
        select(FallbackBatch).where(FallbackBatch.target_id == target_id, where)).one()


def requeue_abandoned(*, claim_expires: timedelta) -> int:
    """Queues again the letters claimed longer ago than `claim_expires`: their worker
    died before recording what happened. Returns how many. Flushes; the caller commits."""
    now = utcnow()
    letters = db.session.scalars(
        select(Letter).where(Letter.status == constant(LetterStatus.SENDING.value),
                             Letter.claimed_at < now - claim_expires)
        .order_by(Letter.id).with_for_update(skip_locked=True)).all()
    for letter in letters:
        if letter.channel == Channel.DIGEST.value:  # the next digest takes it
            letter.digest_id = None
            record_event(letter, LetterStatus.QUEUED.value, "digest interrupted; queued again")
        else:
            record_event(letter, LetterStatus.QUEUED.value, "taken over from a stopped worker")
    db.session.flush()
    return len(letters)


def oldest_letter_due_since() -> datetime | None:
    """Since when the longest-waiting due letter has been due (its retry time or, never
    tried, its creation), or None when none is due."""
    return db.session.scalar(select(func.min(func.coalesce(
        Letter.next_attempt_at, Letter.created_at))).where(_due(utcnow())))


def letters_due() -> int:
    """How many letters are due now: the sweep asks for a delivery run when any are."""
    return db.session.scalar(select(func.count()).select_from(Letter).where(_due(utcnow())))


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
