"""What the staff shell and overview read: pages with their counts, campaigns and
supporters.

Read-only queries across domains, kept here so the staff views need no new functions
in the domains they look into. A domain's own staff pages read through its services.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from campaign.common.text import email_as_stored
from campaign.extensions import db
from campaign.letters.models import Letter
from campaign.pages.models import ActionPage, Campaign
from campaign.supporters.models import Action, Consent, Supporter


@dataclass(frozen=True)
class PageRow:
    page: ActionPage
    signatures: int


def pages_with_signature_counts() -> list[PageRow]:
    """Every page, whatever its status, newest first, with its exact signature count."""
    counts = (select(Action.action_page_id, func.count().label("n"))
              .group_by(Action.action_page_id).subquery())
    rows = db.session.execute(
        select(ActionPage, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.action_page_id == ActionPage.id)
        .order_by(ActionPage.created_at.desc(), ActionPage.id.desc()))
    return [PageRow(page, count) for page, count in rows]


def campaign_choices() -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in db.session.scalars(select(Campaign).order_by(Campaign.name))]


SUPPORTERS_PER_PAGE = 50


@dataclass(frozen=True)
class SupporterRow:
    supporter: Supporter
    actions: int


def find_supporters(query: str, page_number: int = 1) -> tuple[list[SupporterRow], int]:
    """Supporters matching `query` (an email, or its start, with an @; otherwise part of a
    name or an exact postal code), newest first, a page at a time, with the total."""
    query = query.strip()
    where = []
    if "@" in query:
        where.append(Supporter.email.startswith(email_as_stored(query), autoescape=True))
    elif query:
        where.append(func.lower(Supporter.first_name + " " + Supporter.last_name)
                     .contains(query.lower(), autoescape=True)
                     | (func.upper(Supporter.postal_code) == query.upper()))
    total = db.session.scalar(select(func.count()).select_from(Supporter).where(*where))
    # A page past the last (a number from the address, of any size) is the last page.
    page_number = min(max(page_number, 1), max(1, -(-total // SUPPORTERS_PER_PAGE)))
    # Counted per row shown (by the supporter_id index), not for every supporter.
    actions = (select(func.count()).where(Action.supporter_id == Supporter.id)
               .correlate(Supporter).scalar_subquery())
    rows = db.session.execute(
        select(Supporter, actions).where(*where)
        .order_by(Supporter.created_at.desc(), Supporter.id.desc())
        .limit(SUPPORTERS_PER_PAGE).offset((page_number - 1) * SUPPORTERS_PER_PAGE))
    return [SupporterRow(supporter, n) for supporter, n in rows], total


@dataclass(frozen=True)
class SupporterDetail:
    supporter: Supporter
    actions: list[tuple[Action, ActionPage]]
    consents: list[tuple[Consent, ActionPage | None]]
    letters: list[Letter]


def supporter_detail(supporter_id: int) -> SupporterDetail | None:
    supporter = db.session.get(Supporter, supporter_id)
    if supporter is None:
        return None
    actions = db.session.execute(
        select(Action, ActionPage).join(ActionPage, Action.action_page_id == ActionPage.id)
        .where(Action.supporter_id == supporter_id).order_by(Action.created_at.desc())).all()
    consents = db.session.execute(
        select(Consent, ActionPage).outerjoin(ActionPage, Consent.action_page_id == ActionPage.id)
        .where(Consent.supporter_id == supporter_id).order_by(Consent.granted_at.desc())).all()
    letters = db.session.scalars(
        select(Letter).join(Action, Letter.action_id == Action.id)
        .where(Action.supporter_id == supporter_id).order_by(Letter.id)).all()
    return SupporterDetail(supporter, [tuple(row) for row in actions],
                           [tuple(row) for row in consents], list(letters))
