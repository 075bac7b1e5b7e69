"""Action pages: reading them for supporters, creating and editing them for staff."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from campaign.common.text import render_markdown
from campaign.extensions import db
from campaign.pages.models import ActionPage, Campaign, EvidenceCard, PageKind, PageStatus
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


# Editing pages (staff). The rules live here, not only in the staff form, so a page
# saved any other way keeps them too.

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX_LENGTH = 80


class PageError(ValueError):
    """The message is fit to show the staff member editing the page."""


@dataclass(frozen=True)
class PageEdit:
    """A page as staff set it; `cards` in the order the page shows them."""

    title: str
    slug: str
    kind: str
    status: str
    summary: str
    body_markdown: str
    goal: int
    closed_message: str
    cards: tuple[CardView, ...]


def slug_from(text: str) -> str:
    """A URL slug from a title: lower-case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = "-".join(words)[:SLUG_MAX_LENGTH].strip("-")
    return slug


def check_source_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PageError(f"A source link must be a web address (http or https): {url!r}.")


def campaign_named(name: str) -> Campaign:
    """The campaign with this name, made if there is none. Flushes."""
    existing = db.session.scalars(select(Campaign).where(Campaign.name == name)).first()
    if existing is not None:
        return existing
    base = slug_from(name) or "campaign"
    slug, n = base, 1
    while get_campaign_by_slug(slug) is not None:
        n += 1
        slug = f"{base[:SLUG_MAX_LENGTH - len(str(n)) - 1]}-{n}"
    return create_campaign(slug=slug, name=name)


def editable_page(slug: str) -> ActionPage | None:
    return db.session.scalars(
        select(ActionPage).where(ActionPage.slug == slug)
        .options(selectinload(ActionPage.evidence_cards))).one_or_none()


def save_page(page: ActionPage | None, campaign: Campaign, edit: PageEdit, *,
              go_live_refusal: str | None = None) -> ActionPage:
    """Creates a page (`page` None) or changes one, with its evidence cards; PageError
    says what is refused. Flushes; the caller commits or rolls back.

    `go_live_refusal` is what the page's kind (campaign.pages.kinds) knows of it (a
    letter page needs its letter first): why the live status is refused, if it is.

    A page's address and kind are fixed while it is live or closed: links to it are out
    in the world, and its signatures or letters were made for that kind of page.
    """
    if not edit.slug:
        raise PageError("Please give the page an address: its title has no Latin letters "
                        "or digits to make one from.")
    if not SLUG_PATTERN.fullmatch(edit.slug) or len(edit.slug) > SLUG_MAX_LENGTH:
        raise PageError("The address may hold only lower-case letters, digits and single "
                        f"hyphens between them, up to {SLUG_MAX_LENGTH} characters.")
    if edit.kind not in {kind.value for kind in PageKind}:
        raise PageError("Please choose what the page asks supporters to do.")
    if edit.status not in {status.value for status in PageStatus}:
        raise PageError("Please choose draft, live or closed.")
    published = page is not None and page.status != PageStatus.DRAFT.value
    if published and edit.slug != page.slug:
        raise PageError("The address of a live or closed page cannot change: links to "
                        "it are already shared.")
    if published and edit.kind != page.kind:
        raise PageError("The kind of a live or closed page cannot change.")
    if (page is None or edit.slug != page.slug) and page_slug_taken(edit.slug):
        raise PageError(f"Another page already has the address /a/{edit.slug}.")
    if edit.status == PageStatus.LIVE.value and go_live_refusal is not None:
        raise PageError(go_live_refusal)
    for card in edit.cards:
        check_source_url(card.source_url)

    if page is None:
        page = ActionPage(campaign=campaign)
        db.session.add(page)
    page.campaign = campaign
    page.slug, page.title, page.kind, page.status = edit.slug, edit.title, edit.kind, edit.status
    page.summary, page.goal, page.closed_message = edit.summary, edit.goal, edit.closed_message
    set_page_body(page, edit.body_markdown)
    page.evidence_cards = [
        EvidenceCard(position=i, claim=card.claim, source_title=card.source_title,
                     source_url=card.source_url)
        for i, card in enumerate(edit.cards)]
    db.session.flush()
    return page
