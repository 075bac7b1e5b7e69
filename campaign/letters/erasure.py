"""A supporter's letters when their personal data is erased (campaign.supporters.erasure).

A letter's text carries the supporter's name and address in its sign-off. Letters not
yet delivered are withdrawn: they fail with a reason, leave any open fallback batch and
digest, and are never sent. Letters already delivered stay counted, their text replaced.
Their history keeps its statuses and times but not its details (a mail server's error
may quote an address), and the status link stops working.
"""

from __future__ import annotations

from sqlalchemy import select, update

from campaign.extensions import db
from campaign.letters.delivery import record_event
from campaign.letters.models import Letter, LetterEvent, LetterStatus
from campaign.letters.status_links import delete_status_links_of
from campaign.supporters.erasure import ErasureRefused
from campaign.supporters.models import Action

ERASED_BODY = "[This letter's text was erased at the supporter's request.]"
UNDELIVERED = (LetterStatus.QUEUED.value, LetterStatus.BATCHED.value)


def erase_letters_of(supporter_id: int) -> int:
    """Withdraws and empties the supporter's letters; ErasureRefused while one is being
    sent. Returns how many were withdrawn. Flushes; the caller commits."""
    letters = db.session.scalars(
        select(Letter).join(Action, Letter.action_id == Action.id)
        .where(Action.supporter_id == supporter_id).order_by(Letter.id)
        # Waits for a worker's claim to commit, so a letter is either ours or sending.
        .with_for_update(of=Letter.__table__)
        .execution_options(populate_existing=True)).all()
    if any(letter.status == LetterStatus.SENDING.value for letter in letters):
        raise ErasureRefused("A letter from this supporter is being sent right now. "
                             "Please try again in a minute.")
    if letters:
        # Before this erasure's own events are added, which say nothing personal.
        db.session.execute(
            update(LetterEvent)
            .where(LetterEvent.letter_id.in_([letter.id for letter in letters]))
            .values(detail="").execution_options(synchronize_session=False))
    delete_status_links_of(supporter_id)
    withdrawn = 0
    for letter in letters:
        letter.last_error = ""
        if letter.status in UNDELIVERED:
            letter.fallback_batch_id = None
            letter.digest_id = None
            letter.next_attempt_at = None
            letter.last_error = "withdrawn: the supporter's data was erased"
            record_event(letter, LetterStatus.FAILED.value, letter.last_error)
            withdrawn += 1
        letter.body = ERASED_BODY
    db.session.flush()
    return withdrawn
