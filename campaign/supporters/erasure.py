"""Erasing a supporter's personal data at their request.

A defector's relative who signed a page may later need every trace of their name gone.
Erasure keeps the rows that make up a page's counts (the supporter, their actions) but
empties everything personal in them: email, name, postal code, town, where they came
from (source, UTM fields and referring site, when stored per person), their consents,
any thank-you not yet sent, and the thank-you's last error (a mail server's refusal
quotes the address it refused).
Letters are the letters domain's part (campaign.letters.erasure); the caller runs both
in one transaction. Other domains register their part with `add_eraser` (giving, whose
ledger keeps the amounts but not the donor's details), run in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import delete, select, update

from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.supporters.models import Action, Consent, Supporter, ThankYouStatus

ERASED_EMAIL_DOMAIN = "erased.invalid"  # .invalid never resolves: nothing can be sent
ERASERS_EXTENSION = "supporter_erasers"


class ErasureRefused(RuntimeError):
    """Something of the supporter's is being sent this moment; the message says to wait."""


def erased_email(supporter_id: int) -> str:
    return f"erased-{supporter_id}@{ERASED_EMAIL_DOMAIN}"


def lock_supporter(supporter_id: int) -> Supporter | None:
    return db.session.scalars(
        select(Supporter).where(Supporter.id == supporter_id).with_for_update()).one_or_none()


def erase_supporter_record(supporter: Supporter) -> None:
    """Empties the supporter's personal data in their own rows; ErasureRefused while a
    thank-you to them is being sent (its worker has read the address already). The
    supporter must be locked (`lock_supporter`). Flushes; the caller commits."""
    actions = db.session.scalars(
        select(Action).where(Action.supporter_id == supporter.id).order_by(Action.id)
        .with_for_update()).all()
    if any(a.thank_you_status == ThankYouStatus.SENDING.value for a in actions):
        raise ErasureRefused("A thank-you email to this supporter is being sent right now. "
                             "Please try again in a minute.")
    db.session.execute(
        update(Action).where(Action.supporter_id == supporter.id)
        .values(source="", utm_source="", utm_medium="", utm_campaign="", utm_term="",
                utm_content="", referrer="", thank_you_error="")
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(Action).where(Action.supporter_id == supporter.id,
                             Action.thank_you_status == ThankYouStatus.PENDING.value)
        .values(thank_you_status=ThankYouStatus.FAILED.value,
                thank_you_error="not sent: the supporter's data was erased",
                thank_you_next_attempt_at=None)
        .execution_options(synchronize_session=False))
    db.session.execute(delete(Consent).where(Consent.supporter_id == supporter.id))
    supporter.email = erased_email(supporter.id)
    supporter.first_name = supporter.last_name = ""
    supporter.postal_code = supporter.town = supporter.country = ""
    supporter.erased_at = utcnow()
    db.session.flush()


def add_eraser(app: Flask, erase: Callable[[Supporter], str | None]) -> None:
    """Registers a domain's part of an erasure: `erase(supporter)` runs with the supporter
    locked and their email still in place (it finds rows by it), before their own record is
    emptied; it flushes, may raise ErasureRefused, and returns a few words for the activity
    record (no personal data) or None."""
    app.extensions.setdefault(ERASERS_EXTENSION, []).append(erase)


def erase_registered_parts(supporter: Supporter) -> list[str]:
    """Runs every registered part (add_eraser); their notes for the activity record."""
    notes = [erase(supporter) for erase in current_app.extensions.get(ERASERS_EXTENSION, [])]
    return [note for note in notes if note]
