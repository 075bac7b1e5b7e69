"""Action pages: reading them for supporters, creating and editing them for staff."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from campaign.common.text import render_markdown
from campaign.extensions import db
from campaign.pages.models import ActionPage, Campaign, EvidenceCard, PageStatus
from campaign.supporters.models import Action


@dataclass(frozen=True)
class CardView:
    claim: str
    source_title: str
    source_url: str


@dataclass(frozen=True)
class PageView:
    """A detached, read-only copy of a page: safe to cache across requests."""

    id: int
    slug: str
    title: str
    kind: str
    status: str
    summary: str
    body_html: str
    goal: int
    closed_message: str
    campaign_name: str
    cards: tuple[CardView, ...]

    @property
    def is_live(self) -> bool:
        return self.status == PageStatus.LIVE.value

    @property
    def is_closed(self) -> bool:
        return self.status == PageStatus.CLOSED.value


def load_page_view(slug: str) -> PageView | None:
    page = db.session.scalars(
        select(ActionPage)
        .where(ActionPage.slug == slug)
        .options(selectinload(ActionPage.evidence_cards), selectinload(ActionPage.campaign))
    ).one_or_none()
    if page is None:
        return None
    return PageView(
        id=page.id, slug=page.slug, title=page.title, kind=page.kind, status=page.status,
        summary=page.summary, body_html=page.body_html, goal=page.goal,
        closed_message=page.closed_message, campaign_name=page.campaign.name,
        cards=tuple(CardView(c.claim, c.source_title, c.source_url)
                    for c in page.evidence_cards),
    )


def list_public_pages() -> list[ActionPage]:
    return list(db.session.scalars(
        select(ActionPage).where(ActionPage.status == PageStatus.LIVE.value)
        .order_by(ActionPage.created_at.desc(), ActionPage.id.desc())))


def count_signatures(page_id: int) -> int:
    """Exact count, from the unique (page, supporter) index."""
    return db.session.scalar(
        select(func.count()).select_from(Action).where(Action.action_page_id == page_id))


def get_campaign_by_slug(slug: str) -> Campaign | None:
    return db.session.scalars(select(Campaign).where(Campaign.slug == slug)).one_or_none()


def create_campaign(*, slug: str, name: str, summary: str = "") -> Campaign:
    campaign = Campaign(slug=slug, name=name, summary=summary)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def create_page(campaign: Campaign, *, slug: str, title: str, kind: str, status: str,
                summary: str = "", body_markdown: str = "", goal: int = 1000,
                closed_message: str = "",
                cards: list[tuple[str, str, str]] = ()) -> ActionPage:
    """Adds a page with its evidence cards (claim, source title, source URL); flushes."""
    page = ActionPage(campaign=campaign, slug=slug, title=title, kind=kind, status=status,
                      summary=summary, goal=goal, closed_message=closed_message)
    set_page_body(page, body_markdown)
    page.evidence_cards = [
        EvidenceCard(position=i, claim=claim, source_title=source_title, source_url=url)
        for i, (claim, source_title, url) in enumerate(cards)
    ]
    db.session.add(page)
    db.session.flush()
    return page


def set_page_body(page: ActionPage, body_markdown: str) -> None:
    page.body_markdown = body_markdown
    page.body_html = render_markdown(body_markdown)


def page_slug_taken(slug: str) -> bool:
    return db.session.scalar(select(ActionPage.id).where(ActionPage.slug == slug)) is not None
