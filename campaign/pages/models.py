from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.common.types import UTCDateTime, utcnow
from campaign.extensions import db


class PageKind(str, enum.Enum):
    PETITION = "petition"
    LETTER = "letter"
    DONATION = "donation"


class PageStatus(str, enum.Enum):
    DRAFT = "draft"
    LIVE = "live"
    CLOSED = "closed"


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pages: Mapped[list[ActionPage]] = relationship(back_populates="campaign",
                                                   order_by="ActionPage.id")


class ActionPage(db.Model):
    __tablename__ = "action_pages"
    __table_args__ = (
        CheckConstraint("kind IN ('petition', 'letter', 'donation')", name="kind"),
        CheckConstraint("status IN ('draft', 'live', 'closed')", name="status"),
        CheckConstraint("goal >= 0", name="goal_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=PageKind.PETITION.value)
    status: Mapped[str] = mapped_column(String(16), default=PageStatus.DRAFT.value)
    summary: Mapped[str] = mapped_column(String(500), default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    # Rendered and sanitised when the body is saved, never per request.
    body_html: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[int] = mapped_column(Integer, default=1000)
    # What a closed page shows in place of its form.
    closed_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="pages")
    evidence_cards: Mapped[list[EvidenceCard]] = relationship(
        back_populates="page", order_by="EvidenceCard.position",
        cascade="all, delete-orphan")

    @property
    def is_live(self) -> bool:
        return self.status == PageStatus.LIVE.value

    @property
    def is_closed(self) -> bool:
        return self.status == PageStatus.CLOSED.value


class EvidenceCard(db.Model):
    """One sourced fact that ties the rights abuse to the security ask."""

    __tablename__ = "evidence_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str] = mapped_column(Text)
    source_title: Mapped[str] = mapped_column(String(300))
    source_url: Mapped[str] = mapped_column(String(1000))

    page: Mapped[ActionPage] = relationship(back_populates="evidence_cards")


class PageViewCount(db.Model):
    """Views of a page per day and source, in aggregate: nothing here names a person."""

    __tablename__ = "page_view_counts"

    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    views: Mapped[int] = mapped_column(Integer, default=0)
