"""Digests: one email to an office carrying the letters that came in over its hourly cap."""

from __future__ import annotations

from sqlalchemy import select

from campaign.common.sql import constant
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters.delivery import move_to_fallback, record_event
from campaign.letters.models import Channel, Letter, LetterDigest, LetterStatus
from campaign.targets.models import Target

DIGEST_MAX_LETTERS = 200


def targets_with_waiting_digest_letters() -> list[int]:
    return list(db.session.scalars(
        select(Letter.target_id).distinct()
        .where(Letter.channel == Channel.DIGEST.value,
               Letter.status == constant(LetterStatus.QUEUED.value))
        .order_by(Letter.target_id)))


def claim_digest(target_id: int) -> LetterDigest | None:
    """Gathers up to DIGEST_MAX_LETTERS waiting letters for one target into a new digest.

    Letters are locked with SKIP LOCKED, so two digest runs never take the same letter.
    The caller commits before sending.
    """
    letters = list(db.session.scalars(
        select(Letter)
        .where(Letter.target_id == target_id, Letter.channel == Channel.DIGEST.value,
               Letter.status == constant(LetterStatus.QUEUED.value))
        .order_by(Letter.id).limit(DIGEST_MAX_LETTERS)
        .with_for_update(skip_locked=True)))
    if not letters:
        return None
    now = utcnow()
    digest = LetterDigest(target_id=target_id, status=LetterStatus.SENDING.value, attempts=1,
                          created_at=now, claimed_at=now, last_error="")
    db.session.add(digest)
    db.session.flush()
    for letter in letters:
        letter.digest_id = digest.id
        letter.claimed_at = now
        letter.attempts += 1
        record_event(letter, LetterStatus.SENDING.value, f"in digest {digest.id}")
    return digest


def digest_letters(digest: LetterDigest) -> list[Letter]:
    return list(db.session.scalars(
        select(Letter).where(Letter.digest_id == digest.id).order_by(Letter.id)))


def digest_target(digest: LetterDigest) -> Target:
    return db.session.get(Target, digest.target_id)


def mark_digest_sent(digest: LetterDigest) -> None:
    now = utcnow()
    digest.status = LetterStatus.SENT.value
    digest.sent_at = now
    for letter in digest_letters(digest):
        letter.sent_at = now
        record_event(letter, LetterStatus.SENT.value, f"in digest {digest.id}")


def release_digest(digest: LetterDigest, error: str) -> None:
    """A transient failure: the letters wait for the next digest run."""
    digest.status = LetterStatus.FAILED.value
    digest.last_error = error[:500]
    for letter in digest_letters(digest):
        letter.digest_id = None
        letter.last_error = error[:500]
        record_event(letter, LetterStatus.FAILED.value, f"digest {digest.id}: {error} (will retry)")
        record_event(letter, LetterStatus.QUEUED.value)


def digest_to_fallback(digest: LetterDigest, error: str) -> None:
    digest.status = LetterStatus.FAILED.value
    digest.last_error = error[:500]
    for letter in digest_letters(digest):
        move_to_fallback(letter, f"digest {digest.id}: {error}")
