"""A page's numbers for staff: views, signatures and opt-ins by day and by source.

Everything here is a count. Page views were only ever stored as counts per page, day and
source (campaign.pages.cache.ViewCounter), so nothing can tie a view to a person; where
signers came from is read from the same kind of counts (SignatureAttributionCount),
not from their actions, and no row names a supporter.
Days are UTC days on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from campaign.common.sql import utc_day
from campaign.extensions import db
from campaign.pages.models import ActionPage, PageViewCount
from campaign.supporters.models import Action, Consent, SignatureAttributionCount
from campaign.supporters.services import EMAIL_UPDATES

TOP_ROWS = 50  # most source, UTM and referrer rows shown: the long tail is noise


@dataclass(frozen=True)
class DayRow:
    day: date
    views: int
    signatures: int
    opt_ins: int


@dataclass(frozen=True)
class SourceRow:
    source: str
    views: int
    signatures: int

    @property
    def conversion(self) -> float | None:
        """Signatures per view, where there were views to convert."""
        return self.signatures / self.views if self.views else None


@dataclass(frozen=True)
class PageReport:
    views: int
    signatures: int
    opt_ins: int
    days: list[DayRow]
    sources: list[SourceRow]
    campaigns: list[tuple[str, str, str, int]]  # utm source, medium, campaign; signatures
    referrers: list[tuple[str, int]]

    @property
    def conversion(self) -> float | None:
        return self.signatures / self.views if self.views else None

    @property
    def opt_in_share(self) -> float | None:
        return self.opt_ins / self.signatures if self.signatures else None


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _views_by(column, page: ActionPage) -> dict:
    """The page's views summed by `column` (day or source), in the database."""
    return dict(db.session.execute(
        select(column, func.sum(PageViewCount.views))
        .where(PageViewCount.action_page_id == page.id).group_by(column)).all())


def daily_rows(page: ActionPage) -> list[DayRow]:
    """Views, signatures and confirmed opt-ins per UTC day (the day of the tick), newest
    first."""
    views_by_day = {_as_date(day): views
                    for day, views in _views_by(PageViewCount.day, page).items()}
    signature_day = utc_day(Action.created_at)
    signatures_by_day = {_as_date(day): n for day, n in db.session.execute(
        select(signature_day, func.count()).where(Action.action_page_id == page.id)
        .group_by(signature_day))}
    consent_day = utc_day(Consent.granted_at)
    opt_ins_by_day = {_as_date(day): n for day, n in db.session.execute(
        select(consent_day, func.count())
        .where(Consent.action_page_id == page.id, Consent.kind == EMAIL_UPDATES,
               Consent.confirmed_at.is_not(None))  # a tick its owner never confirmed isn't one
        .group_by(consent_day))}
    return [DayRow(day, views_by_day.get(day, 0), signatures_by_day.get(day, 0),
                   opt_ins_by_day.get(day, 0))
            for day in sorted(set(views_by_day) | set(signatures_by_day)
                              | set(opt_ins_by_day), reverse=True)]


def _signatures_by_source(page: ActionPage, total: int) -> dict[str, int]:
    counts = SignatureAttributionCount
    by_source = dict(db.session.execute(
        select(counts.source, func.sum(counts.signatures))
        .where(counts.action_page_id == page.id, counts.source != "")
        .group_by(counts.source)).all())
    # Signatures with no source are not all counted there: those with nothing are the rest.
    by_source[""] = total - sum(by_source.values())
    return by_source


def page_report(page: ActionPage) -> PageReport:
    days = daily_rows(page)
    signatures = sum(row.signatures for row in days)
    views_by_source = _views_by(PageViewCount.source, page)
    signatures_by_source = _signatures_by_source(page, signatures)
    sources = sorted(
        (SourceRow(source, views_by_source.get(source, 0), signatures_by_source.get(source, 0))
         for source in set(views_by_source) | {s for s, n in signatures_by_source.items() if n}),
        key=lambda row: (-row.signatures, -row.views, row.source))[:TOP_ROWS]
    counts = SignatureAttributionCount
    utm = (counts.utm_source, counts.utm_medium, counts.utm_campaign)
    total = func.sum(counts.signatures)
    campaigns = [tuple(row) for row in db.session.execute(
        select(*utm, total)
        .where(counts.action_page_id == page.id,
               (counts.utm_source != "") | (counts.utm_medium != "")
               | (counts.utm_campaign != ""))
        .group_by(*utm).order_by(total.desc(), *utm).limit(TOP_ROWS))]
    referrers = [tuple(row) for row in db.session.execute(
        select(counts.referrer, total)
        .where(counts.action_page_id == page.id, counts.referrer != "")
        .group_by(counts.referrer).order_by(total.desc(), counts.referrer)
        .limit(TOP_ROWS))]
    return PageReport(
        views=sum(row.views for row in days), signatures=signatures,
        opt_ins=sum(row.opt_ins for row in days), days=days, sources=sources,
        campaigns=campaigns, referrers=referrers)


def days_csv(days: list[DayRow]) -> str:
    lines = ["day,views,signatures,opt_ins"]
    lines += [f"{row.day.isoformat()},{row.views},{row.signatures},{row.opt_ins}"
              for row in days]
    return "\r\n".join(lines) + "\r\n"
