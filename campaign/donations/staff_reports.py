"""What staff read about the money: the ledger filtered, totalled per currency and as CSV,
monthly gifts by state, one donor's gifts, money on a page's report, and the attempts the
card-testing defence refused. Reads only; amounts stay in minor units until a template or
the CSV formats them (campaign.donations.money)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Select, func, select

from campaign.common.spreadsheet import spreadsheet_safe
from campaign.common.sql import utc_day
from campaign.donations.models import (
    Donation,
    DonationRefund,
    GiftBlockCount,
    MonthlyGift,
)
from campaign.donations.money import plain
from campaign.extensions import db
from campaign.pages.models import ActionPage, PageKind
from campaign.supporters.models import Supporter

ROWS_PER_PAGE = 50
TOP_ROWS = 50  # most source and UTM rows on a page's report: the long tail is noise
BLOCK_DAYS = 30  # the blocked-attempts table's default reach, when no dates are chosen
DISPUTED = "disputed"  # a status filter: any dispute, open or closed
CSV_BATCH = 500  # rows fetched from the database at a time while the CSV streams


@dataclass(frozen=True)
class DonationQuery:
    """The donations list's filter; None is any."""

    page_id: int | None = None
    date_from: date | None = None  # UTC days, both ends included
    date_to: date | None = None
    frequency: str | None = None
    status: str | None = None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _filtered(statement: Select, query: DonationQuery) -> Select:
    if query.page_id is not None:
        statement = statement.where(Donation.action_page_id == query.page_id)
    if query.date_from is not None:
        statement = statement.where(Donation.charged_at >= _start_of(query.date_from))
    if query.date_to is not None:
        statement = statement.where(
            Donation.charged_at < _start_of(query.date_to + timedelta(days=1)))
    if query.frequency:
        statement = statement.where(Donation.frequency == query.frequency)
    if query.status == DISPUTED:
        statement = statement.where(Donation.dispute_status != "")
    elif query.status:
        statement = statement.where(Donation.status == query.status)
    return statement


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    count: int
    amount: int
    refunded: int

    @property
    def net(self) -> int:
        return self.amount - self.refunded


@dataclass(frozen=True)
class DonationRow:
    donation: Donation
    page: ActionPage | None
    supporter: Supporter | None


def donation_rows(query: DonationQuery, page_number: int) -> tuple[list[DonationRow], int]:
    """One page of the filtered donations, newest first, and how many match."""
    total = db.session.scalar(_filtered(select(func.count(Donation.id)), query)) or 0
    rows = db.session.execute(
        _filtered(select(Donation, ActionPage, Supporter), query)
        .outerjoin(ActionPage, Donation.action_page_id == ActionPage.id)
        .outerjoin(Supporter, Donation.supporter_id == Supporter.id)
        .order_by(Donation.charged_at.desc(), Donation.id.desc())
        .limit(ROWS_PER_PAGE).offset((max(page_number, 1) - 1) * ROWS_PER_PAGE)).all()
    return [DonationRow(*row) for row in rows], total


def currency_totals(query: DonationQuery) -> list[CurrencyTotal]:
    """Count, charged and refunded per currency over everything the filter matches."""
    rows = db.session.execute(_filtered(
        select(Donation.currency, func.count(Donation.id), func.sum(Donation.amount),
               func.sum(Donation.amount_refunded)), query)
        .group_by(Donation.currency).order_by(Donation.currency)).all()
    return [CurrencyTotal(currency, count, int(amount or 0), int(refunded or 0))
            for currency, count, amount, refunded in rows]


CSV_COLUMNS = ("donation_id", "charged_at_utc", "page", "frequency", "status", "currency",
               "amount", "fee_covered", "amount_refunded", "net", "dispute_status",
               "source", "utm_source", "utm_medium", "utm_campaign", "supporter_id",
               "donor_email", "donor_name", "stripe_payment_intent", "stripe_charge",
               "monthly_gift_id")


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([spreadsheet_safe(value) for value in values])
    return out.getvalue()


def donations_csv(query: DonationQuery) -> Iterator[str]:
    """The filtered donations as CSV lines, oldest first, amounts in major units, read in
    batches so a year of donations streams without being held in memory."""
    yield _csv_line(CSV_COLUMNS)
    statement = (_filtered(select(Donation, ActionPage.slug, Supporter), query)
                 .outerjoin(ActionPage, Donation.action_page_id == ActionPage.id)
                 .outerjoin(Supporter, Donation.supporter_id == Supporter.id)
                 .order_by(Donation.charged_at, Donation.id)
                 .execution_options(yield_per=CSV_BATCH))
    for donation, slug, supporter in db.session.execute(statement):
        currency = donation.currency
        yield _csv_line((
            donation.id, donation.charged_at.strftime("%Y-%m-%d %H:%M:%S"), slug or "",
            donation.frequency, donation.status, currency.upper(),
            plain(donation.amount, currency), plain(donation.fee_covered, currency),
            plain(donation.amount_refunded, currency), plain(donation.net_amount, currency),
            donation.dispute_status, donation.source, donation.utm_source,
            donation.utm_medium, donation.utm_campaign, donation.supporter_id or "",
            supporter.email if supporter and not supporter.erased_at else "",
            supporter.full_name if supporter and not supporter.erased_at else "",
            donation.stripe_payment_intent_id, donation.stripe_charge_id or "",
            donation.monthly_gift_id or ""))


def donation_page_choices() -> list[tuple[int, str]]:
    """Pages a donation can belong to: donation pages, and any page that has one."""
    with_gifts = select(Donation.action_page_id).where(Donation.action_page_id.is_not(None))
    pages = db.session.execute(
        select(ActionPage.id, ActionPage.title)
        .where((ActionPage.kind == PageKind.DONATION.value) | ActionPage.id.in_(with_gifts))
        .order_by(ActionPage.title, ActionPage.id)).all()
    return [(page_id, title) for page_id, title in pages]


def donation_detail(donation_id: int):
    """(donation, page, supporter, refunds newest first), or None."""
    row = db.session.execute(
        select(Donation, ActionPage, Supporter).where(Donation.id == donation_id)
        .outerjoin(ActionPage, Donation.action_page_id == ActionPage.id)
        .outerjoin(Supporter, Donation.supporter_id == Supporter.id)).one_or_none()
    if row is None:
        return None
    refunds = db.session.scalars(
        select(DonationRefund).where(DonationRefund.donation_id == donation_id)
        .order_by(DonationRefund.id.desc())).all()
    return (*row, list(refunds))


@dataclass(frozen=True)
class MonthlyRow:
    gift: MonthlyGift
    page: ActionPage | None
    supporter: Supporter | None
    charges: int  # successful monthly charges in the ledger


def monthly_rows(state: str | None, page_number: int,
                 gift_id: int | None = None) -> tuple[list[MonthlyRow], int]:
    """Monthly gifts in `state` (None: all; `gift_id`: that one), newest first, one page
    of them."""
    counted = select(func.count(MonthlyGift.id))
    listed = (select(MonthlyGift, ActionPage, Supporter)
              .outerjoin(ActionPage, MonthlyGift.action_page_id == ActionPage.id)
              .outerjoin(Supporter, MonthlyGift.supporter_id == Supporter.id))
    if state:
        counted = counted.where(MonthlyGift.status == state)
        listed = listed.where(MonthlyGift.status == state)
    if gift_id is not None:
        counted = counted.where(MonthlyGift.id == gift_id)
        listed = listed.where(MonthlyGift.id == gift_id)
    rows = db.session.execute(
        listed.order_by(MonthlyGift.created_at.desc(), MonthlyGift.id.desc())
        .limit(ROWS_PER_PAGE).offset((max(page_number, 1) - 1) * ROWS_PER_PAGE)).all()
    charges = dict(db.session.execute(
        select(Donation.monthly_gift_id, func.count(Donation.id))
        .where(Donation.monthly_gift_id.in_([row[0].id for row in rows]))
        .group_by(Donation.monthly_gift_id)).all()) if rows else {}
    return ([MonthlyRow(gift, page, supporter, charges.get(gift.id, 0))
             for gift, page, supporter in rows], db.session.scalar(counted) or 0)


def monthly_state_counts() -> dict[str, int]:
    return dict(db.session.execute(
        select(MonthlyGift.status, func.count(MonthlyGift.id))
        .group_by(MonthlyGift.status)).all())


def donor_gifts(supporter: Supporter) -> dict | None:
    """The supporter's donations and monthly gifts, for their staff page; None if none."""
    donations = db.session.execute(
        select(Donation, ActionPage).where(Donation.supporter_id == supporter.id)
        .outerjoin(ActionPage, Donation.action_page_id == ActionPage.id)
        .order_by(Donation.charged_at.desc(), Donation.id.desc())).all()
    monthly = db.session.execute(
        select(MonthlyGift, ActionPage).where(MonthlyGift.supporter_id == supporter.id)
        .outerjoin(ActionPage, MonthlyGift.action_page_id == ActionPage.id)
        .order_by(MonthlyGift.created_at.desc())).all()
    if not donations and not monthly:
        return None
    totals: dict[str, int] = {}
    for donation, _ in donations:
        totals[donation.currency] = totals.get(donation.currency, 0) + donation.net_amount
    return {"donations": [tuple(row) for row in donations],
            "monthly": [tuple(row) for row in monthly], "totals": sorted(totals.items())}


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def block_counts(page_id: int | None = None, date_from: date | None = None,
                 date_to: date | None = None) -> list[tuple[date, str, str, int]]:
    """(day, page title, reason, blocked) of refused attempts, newest day first; the last
    BLOCK_DAYS days when no dates are given."""
    counts = GiftBlockCount
    statement = (select(counts.day, ActionPage.title, counts.reason, counts.blocked)
                 .join(ActionPage, counts.action_page_id == ActionPage.id))
    if page_id is not None:
        statement = statement.where(counts.action_page_id == page_id)
    if date_from is None and date_to is None:
        date_from = datetime.now(timezone.utc).date() - timedelta(days=BLOCK_DAYS - 1)
    if date_from is not None:
        statement = statement.where(counts.day >= date_from)
    if date_to is not None:
        statement = statement.where(counts.day <= date_to)
    return [(_as_date(day), title, reason, blocked) for day, title, reason, blocked in
            db.session.execute(statement.order_by(counts.day.desc(), ActionPage.title,
                                                  counts.reason).limit(TOP_ROWS * 4))]


@dataclass(frozen=True)
class MoneyRow:
    """Gifts and money net of refunds for one day, source or UTM campaign, in a currency."""

    key: tuple
    currency: str
    count: int
    net: int


def _net_by(page: ActionPage, *columns) -> list[MoneyRow]:
    net = func.sum(Donation.amount - Donation.amount_refunded)
    rows = db.session.execute(
        select(*columns, Donation.currency, func.count(Donation.id), net)
        .where(Donation.action_page_id == page.id)
        .group_by(*columns, Donation.currency)
        .order_by(net.desc(), Donation.currency)).all()
    return [MoneyRow(tuple(row[:len(columns)]), row[len(columns)], row[-2], int(row[-1] or 0))
            for row in rows]


def page_money(page: ActionPage) -> dict | None:
    """Money on the page's report: gifts and net of refunds in all, by UTC day, by source
    and by UTM campaign, monthly gifts running, and the attempts refused. None for a page
    that is not a donation page and never had a gift."""
    totals = _net_by(page)
    if not totals and page.kind != PageKind.DONATION.value:
        return None
    day = utc_day(Donation.charged_at)
    days = sorted(_net_by(page, day), key=lambda row: (_as_date(row.key[0]), row.currency),
                  reverse=True)
    days = [MoneyRow((_as_date(row.key[0]),), row.currency, row.count, row.net)
            for row in days]
    utm = (Donation.utm_source, Donation.utm_medium, Donation.utm_campaign)
    campaigns = [row for row in _net_by(page, *utm) if any(row.key)][:TOP_ROWS]
    running = db.session.scalar(
        select(func.count(MonthlyGift.id))
        .where(MonthlyGift.action_page_id == page.id,
               MonthlyGift.status.in_(("active", "past_due")))) or 0
    return {"page": page, "totals": totals, "days": days,
            "sources": _net_by(page, Donation.source)[:TOP_ROWS], "campaigns": campaigns,
            "monthly_running": running, "blocks": block_counts(page.id)}
