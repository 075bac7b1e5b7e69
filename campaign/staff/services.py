"""What the staff pages read: pages with their counts, campaigns, and target lists.

Read-only queries across domains, kept here so the staff views need no new functions
in the domains they look into.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.letters.models import FallbackBatch, LetterSettings
from campaign.pages.models import ActionPage, Campaign, PageKind
from campaign.supporters.models import Action
from campaign.targets.models import TargetList, TargetListMember


@dataclass(frozen=True)
class PageRow:
    page: ActionPage
    signatures: int

    @property
    def is_letter(self) -> bool:
        return self.page.kind == PageKind.LETTER.value


def pages_with_signature_counts() -> list[PageRow]:
    """Every page, whatever its status, newest first, with its exact signature count."""
    counts = (select(Action.action_page_id, func.count().label("n"))
              .group_by(Action.action_page_id).subquery())
    rows = db.session.execute(
        select(ActionPage, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.action_page_id == ActionPage.id)
        .order_by(ActionPage.created_at.desc(), ActionPage.id.desc()))
    return [PageRow(page, count) for page, count in rows]


def letter_page(slug: str) -> ActionPage | None:
    page = db.session.scalars(select(ActionPage).where(ActionPage.slug == slug)).one_or_none()
    return page if page is not None and page.kind == PageKind.LETTER.value else None


def campaign_choices() -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in db.session.scalars(select(Campaign).order_by(Campaign.name))]


def ready_to_go_live(page: ActionPage | None, kind: str) -> bool:
    """A letter page may go live only once its letter is set; other kinds need nothing
    from outside the pages domain."""
    if kind != PageKind.LETTER.value:
        return True
    return page is not None and page.id is not None and \
        db.session.get(LetterSettings, page.id) is not None


@dataclass(frozen=True)
class TargetListRow:
    target_list: TargetList
    targets: int


def target_lists_with_counts() -> list[TargetListRow]:
    rows = db.session.execute(
        select(TargetList, func.count(TargetListMember.target_id))
        .outerjoin(TargetListMember, TargetListMember.target_list_id == TargetList.id)
        .group_by(TargetList.id).order_by(TargetList.created_at.desc(), TargetList.id.desc()))
    return [TargetListRow(target_list, count) for target_list, count in rows]


def target_list_choices() -> list[tuple[int, str]]:
    return [(target_list.id, target_list.name) for target_list in db.session.scalars(
        select(TargetList).order_by(TargetList.name, TargetList.id))]


def get_batch(batch_id: int) -> FallbackBatch | None:
    return db.session.get(FallbackBatch, batch_id)
