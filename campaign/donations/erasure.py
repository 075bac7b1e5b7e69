"""A donor's part of erasing a supporter (campaign.supporters.erasure.add_eraser).

The ledger is a financial record: donations and monthly gifts keep their amounts, Stripe
ids and the link to the (now empty) supporter row. What names a person goes: the gift
attempts' email, names, tribute name and the honouree's email, their errors (a card error
may quote a name) and the visitor hash, and the reasons staff gave for refunds; donor
emails not yet sent become 'skipped'.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select, update

from campaign.donations.models import (
    Donation,
    DonationRefund,
    DonorEmail,
    DonorEmailStatus,
    GiftAttempt,
    MonthlyGift,
)
from campaign.extensions import db
from campaign.supporters.erasure import ErasureRefused, erased_email
from campaign.supporters.models import Supporter


def _attempt_ids(supporter: Supporter) -> list[int]:
    """The supporter's attempts: those behind their gifts, and any made with their email
    (those that never became a gift too)."""
    linked = (select(Donation.gift_attempt_id).where(Donation.supporter_id == supporter.id)
              .union(select(MonthlyGift.gift_attempt_id)
                     .where(MonthlyGift.supporter_id == supporter.id)))
    return list(db.session.scalars(
        select(GiftAttempt.id).where(or_(
            GiftAttempt.id.in_(linked.scalar_subquery()),
            func.lower(GiftAttempt.email) == supporter.email.lower()))
        .order_by(GiftAttempt.id)))


def _their_emails(supporter: Supporter):
    """Donor emails to them: addressed to them, or about their donations (a tribute
    email tells the honouree of a gift this supporter made)."""
    return or_(DonorEmail.supporter_id == supporter.id,
               DonorEmail.donation_id.in_(
                   select(Donation.id).where(Donation.supporter_id == supporter.id)),
               DonorEmail.monthly_gift_id.in_(
                   select(MonthlyGift.id).where(MonthlyGift.supporter_id == supporter.id)))


def erase_gifts_of(supporter: Supporter) -> str | None:
    """Empties the personal data in the supporter's gift attempts and stops emails not yet
    sent to or about them; ErasureRefused while one is being sent. Flushes; the caller
    commits. Returns words for the activity record, or None when they never gave."""
    emails = db.session.scalars(
        select(DonorEmail).where(_their_emails(supporter)).order_by(DonorEmail.id)
        # Waits for a mail worker's claim to commit, so an email is either ours or sending.
        .with_for_update().execution_options(populate_existing=True)).all()
    if any(email.status == DonorEmailStatus.SENDING.value for email in emails):
        raise ErasureRefused("An email to this donor is being sent right now. "
                             "Please try again in a minute.")
    skipped = 0
    for email in emails:
        email.last_error = ""  # a mail server's refusal quotes the address
        if email.status == DonorEmailStatus.PENDING.value:
            email.status = DonorEmailStatus.SKIPPED.value
            email.next_attempt_at = None
            skipped += 1
    # A refund's reason is typed by staff and may name the donor.
    db.session.execute(
        update(DonationRefund)
        .where(DonationRefund.donation_id.in_(
            select(Donation.id).where(Donation.supporter_id == supporter.id)))
        .values(reason="").execution_options(synchronize_session=False))
    attempt_ids = _attempt_ids(supporter)
    if attempt_ids:
        db.session.execute(
            update(GiftAttempt).where(GiftAttempt.id.in_(attempt_ids))
            # The placeholder keeps the row valid (an email is required) and sends nowhere.
            .values(email=erased_email(supporter.id), first_name="", last_name="",
                    tribute_name="", tribute_notify_email="", last_error="", visitor_key="")
            .execution_options(synchronize_session=False))
    db.session.flush()
    if not attempt_ids and not emails:
        return None
    return (f"{len(attempt_ids)} gift attempts emptied, {skipped} donor emails not sent; "
            "gifts kept in the ledger")
