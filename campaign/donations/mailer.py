"""The donor emails' delivery state: claim, record sent, give back, fail, skip, sweep.

The outbox protocol of campaign/outbox.py, as the thank-yous follow it
(campaign.supporters.services), for the donor_emails table. Unlike a thank-you, a donor
email is not held to one email a day per address: a receipt for every charge is a
financial record the donor (and their tax return) needs, the others answer a payment or a
gift of theirs, and none can be caused by a stranger typing an address into a form (each
follows money Stripe took or tried to take).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import joinedload

from campaign.common.sql import committing_each, constant
from campaign.common.types import utcnow
from campaign.donations.models import Donation, DonorEmail, DonorEmailStatus, MonthlyGift
from campaign.extensions import db


def _due(now):
    # A constant: ix_donor_emails_due is partial (campaign.common.sql.constant).
    return and_(DonorEmail.status == constant(DonorEmailStatus.PENDING.value),
                or_(DonorEmail.next_attempt_at.is_(None), DonorEmail.next_attempt_at <= now))


def claim_donor_emails(limit: int) -> list[int]:
    """Marks up to `limit` of the oldest due donor emails as being sent and returns their
    ids. The caller must commit before sending."""
    now = utcnow()
    ids = list(db.session.scalars(
        select(DonorEmail.id).where(_due(now)).order_by(DonorEmail.id).limit(limit)
        .with_for_update(skip_locked=True)))
    if ids:
        db.session.execute(
            update(DonorEmail).where(DonorEmail.id.in_(ids))
            .values(status=DonorEmailStatus.SENDING.value, claimed_at=now,
                    attempts=DonorEmail.attempts + 1, next_attempt_at=None)
            .execution_options(synchronize_session=False))
    return ids


def load_donor_emails(email_ids: list[int]) -> list[DonorEmail]:
    """The claimed rows, with their donations and monthly gifts (and those rows' donors)
    in the session, where the builders find them by id."""
    rows = list(db.session.scalars(
        select(DonorEmail).where(DonorEmail.id.in_(email_ids)).order_by(DonorEmail.id)))
    donation_ids = {row.donation_id for row in rows if row.donation_id}
    gift_ids = {row.monthly_gift_id for row in rows if row.monthly_gift_id}
    if donation_ids:
        db.session.scalars(select(Donation).where(Donation.id.in_(donation_ids))
                           .options(joinedload(Donation.supporter))).all()
    if gift_ids:
        db.session.scalars(select(MonthlyGift).where(MonthlyGift.id.in_(gift_ids))
                           .options(joinedload(MonthlyGift.supporter))).all()
    return rows


def _set(email_id: int, **values: object) -> None:
    # By id: after the claim's commit the loaded rows are expired (see _set_thank_you).
    db.session.execute(update(DonorEmail).where(DonorEmail.id == email_id).values(**values)
                       .execution_options(synchronize_session=False))


def mark_donor_email_sent(email_id: int) -> None:
    _set(email_id, status=DonorEmailStatus.SENT.value, sent_at=utcnow(), last_error="")


_MARK_SENT_NOW = text("UPDATE donor_emails SET status = 'sent', sent_at = :now, "
                      "last_error = '' WHERE id = :id")


def recording_donor_email_sent() -> AbstractContextManager[Callable[[int], None]]:
    """A function that records one claimed donor email as sent, committed at once (the
    moment the mail server has taken it; campaign.common.sql.committing_each)."""
    return committing_each(_MARK_SENT_NOW, mark_donor_email_sent)


def release_donor_email(email_id: int, error: str, retry_at: datetime) -> None:
    """Gives a claimed email back after a transient failure, due again at `retry_at`."""
    _set(email_id, status=DonorEmailStatus.PENDING.value, last_error=error[:500],
         next_attempt_at=retry_at)


def fail_donor_email(email_id: int, error: str) -> None:
    _set(email_id, status=DonorEmailStatus.FAILED.value, last_error=error[:500])


def skip_donor_email(email_id: int, reason: str) -> None:
    """Nothing to send any more (the donor was erased, the honouree's address removed)."""
    _set(email_id, status=DonorEmailStatus.SKIPPED.value, last_error=reason[:500])


def renew_donor_email_claims(email_ids: list[int]) -> None:
    """Marks these claimed emails as still held by a live worker."""
    if email_ids:
        db.session.execute(
            update(DonorEmail).where(DonorEmail.id.in_(email_ids),
                                     DonorEmail.status == DonorEmailStatus.SENDING.value)
            .values(claimed_at=utcnow()).execution_options(synchronize_session=False))


def requeue_abandoned_donor_emails(*, claim_expires: timedelta) -> int:
    """Makes pending again the emails claimed longer ago than `claim_expires`: their worker
    died before recording what happened. Returns how many."""
    result = db.session.execute(
        update(DonorEmail)
        .where(DonorEmail.status == DonorEmailStatus.SENDING.value,
               DonorEmail.claimed_at < utcnow() - claim_expires)
        .values(status=DonorEmailStatus.PENDING.value,
                last_error="taken over from a stopped worker")
        .execution_options(synchronize_session=False))
    return result.rowcount


def oldest_donor_email_due_since() -> datetime | None:
    """Since when the longest-waiting due donor email has been due, or None (/healthz)."""
    return db.session.scalar(select(func.min(func.coalesce(
        DonorEmail.next_attempt_at, DonorEmail.created_at))).where(_due(utcnow())))


def donor_emails_due() -> int:
    """How many donor emails are due now: the sweep asks for a run when any are."""
    return db.session.scalar(
        select(func.count()).select_from(DonorEmail).where(_due(utcnow())))
