"""The donor emails: a receipt per charge, the honouree's tribute notice, a failed monthly
payment (dunning), a monthly gift ended, and the year's statement.

Each is built from its donor_emails row when it is sent, through campaign.mail.messages,
with the row's dedupe key as its Message-ID key: a resend is the same message. An email
whose donor was erased is not built (`NothingToSend`): the drain marks it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message

from flask import current_app
from sqlalchemy import select

from campaign.donations.gift_links import card_url, manage_url
from campaign.donations.models import (
    Donation,
    DonorEmail,
    DonorEmailKind,
    Frequency,
    GiftAttempt,
    MonthlyGift,
    MonthlyGiftStatus,
)
from campaign.donations.money import format_money
from campaign.extensions import db
from campaign.mail.messages import build_message, mailbox
from campaign.pages.models import ActionPage
from campaign.supporters.models import Supporter
from campaign.supporters.thanks import page_url


class NothingToSend(Exception):
    """The email is owed to nobody any more; the message says why (stored, no personal data)."""


def _donor(supporter: Supporter | None) -> Supporter:
    if supporter is None:
        raise NothingToSend("not sent: no donor on record for this gift")
    if supporter.erased_at is not None:
        raise NothingToSend("not sent: the donor's personal data was erased")
    return supporter


def _page(page_id: int | None) -> ActionPage | None:
    return db.session.get(ActionPage, page_id) if page_id else None


def _receipt_settings() -> dict:
    config = current_app.config
    return {"legal_name": config.get("RECEIPT_LEGAL_NAME") or config["ORG_NAME"],
            "tax_id": config.get("RECEIPT_TAX_ID") or "",
            "deductibility": config.get("RECEIPT_DEDUCTIBILITY_TEXT") or ""}


def _day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%d %B %Y")


def build_receipt(row: DonorEmail) -> Message:
    donation = db.session.get(Donation, row.donation_id) if row.donation_id else None
    if donation is None:
        raise NothingToSend("not sent: the donation is gone")
    donor = _donor(donation.supporter or db.session.get(Supporter, row.supporter_id or 0))
    page = _page(donation.action_page_id)
    gift = donation.monthly_gift
    monthly = donation.frequency == Frequency.MONTHLY.value
    money = format_money(donation.amount, donation.currency)
    return build_message(
        "donation_receipt", to=mailbox(donor.full_name, donor.email),
        subject=f"Your receipt for {money}" + (" (monthly gift)" if monthly else ""),
        context={"donor": donor, "donation": donation, "page": page,
                 "campaign_name": page.campaign.name if page else "",
                 "page_url": page_url(page.slug) if page else None,
                 "amount": money, "currency": donation.currency.upper(),
                 "fee_covered": format_money(donation.fee_covered, donation.currency)
                 if donation.fee_covered else None,
                 "charged_on": _day(donation.charged_at), "receipt_number": donation.id,
                 "monthly": monthly,
                 "manage_url": manage_url(gift.id) if gift is not None
                 and gift.status != MonthlyGiftStatus.CANCELED.value else None,
                 **_receipt_settings()},
        idempotency_key=row.dedupe_key)


def build_tribute(row: DonorEmail) -> Message:
    """To the honouree: who gave in their honour or memory, never how much."""
    donation = db.session.get(Donation, row.donation_id) if row.donation_id else None
    attempt = db.session.get(GiftAttempt, donation.gift_attempt_id) \
        if donation is not None and donation.gift_attempt_id else None
    if attempt is None or not attempt.tribute_notify_email:
        raise NothingToSend("not sent: no honouree's address any more")
    donor = _donor(donation.supporter)
    donor_name = f"{attempt.first_name} {attempt.last_name}".strip() or donor.full_name
    page = _page(donation.action_page_id)
    return build_message(
        "donation_tribute",
        to=mailbox(attempt.tribute_name, attempt.tribute_notify_email),
        subject=f"A gift {'in memory of' if attempt.tribute_kind == 'memory' else 'in honour of'}"
                f" {attempt.tribute_name}",
        context={"tribute_name": attempt.tribute_name, "in_memory":
                 attempt.tribute_kind == "memory", "donor_name": donor_name, "page": page,
                 "page_url": page_url(page.slug) if page else None},
        idempotency_key=row.dedupe_key)


def _gift(row: DonorEmail) -> MonthlyGift:
    gift = db.session.get(MonthlyGift, row.monthly_gift_id) if row.monthly_gift_id else None
    if gift is None:
        raise NothingToSend("not sent: the monthly gift is gone")
    return gift


def build_dunning(row: DonorEmail) -> Message:
    gift = _gift(row)
    donor = _donor(gift.supporter or db.session.get(Supporter, row.supporter_id or 0))
    page = _page(gift.action_page_id)
    return build_message(
        "donation_dunning", to=mailbox(donor.full_name, donor.email),
        subject="Your monthly gift: the payment did not go through",
        context={"donor": donor, "gift": gift, "page": page,
                 "amount": format_money(gift.amount, gift.currency),
                 "card_url": card_url(gift.id), "manage_url": manage_url(gift.id),
                 "max_failures": current_app.config["DONATION_MAX_PAYMENT_FAILURES"]},
        idempotency_key=row.dedupe_key)


def build_gift_ended(row: DonorEmail) -> Message:
    gift = _gift(row)
    donor = _donor(gift.supporter or db.session.get(Supporter, row.supporter_id or 0))
    page = _page(gift.action_page_id)
    return build_message(
        "donation_gift_ended", to=mailbox(donor.full_name, donor.email),
        subject="Your monthly gift has ended",
        context={"donor": donor, "gift": gift, "page": page,
                 "page_url": page_url(page.slug) if page else None,
                 "amount": format_money(gift.amount, gift.currency)},
        idempotency_key=row.dedupe_key)


@dataclass(frozen=True)
class StatementLine:
    charged_on: str
    page_title: str
    frequency: str
    amount: str
    refunded: str | None
    net: str


def statement_for(supporter_id: int, year: int) -> tuple[list[StatementLine], list[str]]:
    """A donor's gifts charged in `year` (UTC) net of refunds, oldest first, with the
    totals per currency ('$75', '₩30,000'); a fully refunded gift is left out."""
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    donations = db.session.scalars(
        select(Donation).where(Donation.supporter_id == supporter_id,
                               Donation.charged_at >= start, Donation.charged_at < end,
                               Donation.amount > Donation.amount_refunded)
        .order_by(Donation.charged_at, Donation.id)).all()
    lines, totals = [], {}
    for donation in donations:
        page = _page(donation.action_page_id)
        lines.append(StatementLine(
            charged_on=_day(donation.charged_at), page_title=page.title if page else "",
            frequency="monthly" if donation.frequency == Frequency.MONTHLY.value
            else "one-time",
            amount=format_money(donation.amount, donation.currency),
            refunded=format_money(donation.amount_refunded, donation.currency)
            if donation.amount_refunded else None,
            net=format_money(donation.net_amount, donation.currency)))
        totals[donation.currency] = totals.get(donation.currency, 0) + donation.net_amount
    return lines, [format_money(total, currency) for currency, total in sorted(totals.items())]


def build_statement(row: DonorEmail) -> Message:
    donor = _donor(db.session.get(Supporter, row.supporter_id) if row.supporter_id else None)
    lines, totals = statement_for(donor.id, row.year)
    if not lines:
        raise NothingToSend("not sent: nothing given that year, net of refunds")
    return build_message(
        "donation_statement", to=mailbox(donor.full_name, donor.email),
        subject=f"Your giving in {row.year}",
        context={"donor": donor, "year": row.year, "lines": lines, "totals": totals,
                 **_receipt_settings()},
        idempotency_key=row.dedupe_key)


BUILDERS = {
    DonorEmailKind.RECEIPT.value: build_receipt,
    DonorEmailKind.TRIBUTE.value: build_tribute,
    DonorEmailKind.DUNNING.value: build_dunning,
    DonorEmailKind.GIFT_ENDED.value: build_gift_ended,
    DonorEmailKind.STATEMENT.value: build_statement,
}


def build_donor_email(row: DonorEmail) -> Message:
    """The row's email; NothingToSend when it is owed to nobody any more."""
    return BUILDERS[row.kind](row)
