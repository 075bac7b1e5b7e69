from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.common.types import UTCDateTime, utcnow
from campaign.extensions import db


class Supporter(db.Model):
    __tablename__ = "supporters"
    __table_args__ = (
        # Emails are stored normalised to lower case and the database holds us to it,
        # so the unique constraint is case-insensitive on every backend.
        CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    town: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the supporter's personal data was erased at their request; the row stays
    # so that the pages' counts do (campaign.supporters.erasure).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the claim of a thank-you or notice last chose this address: anyone can type
    # anyone's email into a form, so the address gets at most one of those a day
    # (services.claim_thank_yous).
    last_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actions: Mapped[list[Action]] = relationship(back_populates="supporter")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ThankYouStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # not sent: the address had its one email of the day already


class Action(db.Model):
    """A supporter's signature on one page; at most one per supporter and page."""

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("action_page_id", "supporter_id"),
        # The sweep looks for thank-yous left behind by a lost message or worker.
        Index("ix_actions_thank_you_pending", "thank_you_status", "created_at"),
        # A run takes the oldest pending thank-yous: an index of those alone, so finding
        # a batch never walks past every action that was thanked before.
        Index("ix_actions_thank_you_due", "id",
              postgresql_where=text("thank_you_status = 'pending'"),
              sqlite_where=text("thank_you_status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True)
    # Where the signer came from: empty unless ATTRIBUTION_PER_PERSON is on; the counts
    # live in SignatureAttributionCount either way.
    source: Mapped[str] = mapped_column(String(40), default="")
    utm_source: Mapped[str] = mapped_column(String(255), default="")
    utm_medium: Mapped[str] = mapped_column(String(255), default="")
    utm_campaign: Mapped[str] = mapped_column(String(255), default="")
    utm_term: Mapped[str] = mapped_column(String(255), default="")
    utm_content: Mapped[str] = mapped_column(String(255), default="")
    referrer: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The thank-you email's delivery state lives with the action: the database, not the
    # broker, is the record of what still has to be sent.
    thank_you_status: Mapped[str] = mapped_column(String(16),
                                                  default=ThankYouStatus.PENDING.value)
    thank_you_attempts: Mapped[int] = mapped_column(Integer, default=0)
    thank_you_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a thank-you waits for a retry after a transient failure.
    thank_you_next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thank_you_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thank_you_error: Mapped[str] = mapped_column(String(500), default="")
    # Set when a second signature with this address asked to tell its owner, by email,
    # that they had signed already; from then on this action's email is that notice.
    notice_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    supporter: Mapped[Supporter] = relationship(back_populates="actions")
    page: Mapped["ActionPage"] = relationship()  # noqa: F821 - resolved by name


class Consent(db.Model):
    """What a supporter agreed to, in which wording, when and where.

    Ticking the box records a pending consent; only the address's owner can confirm it,
    from the link in their thank-you email. Only confirmed consents count as opted in.
    """

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True)
    action_page_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_pages.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    wording_version: Mapped[str] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # sha256 of the confirmation link's random token: the database never holds a link
    # that works. Replaced each time an email carrying a link is built.
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class SignatureAttributionCount(db.Model):
    """Signatures per page, UTC day and where they came from (`?source=`, the five UTM
    fields, the referring site's origin), in aggregate: nothing here names a person.
    Signatures that came with none of these are not counted here (the page's total less
    these is the rest), so plain signatures never queue on one counter row."""

    __tablename__ = "signature_attribution_counts"

    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # A SHA-256 of the fields below: the key's index stays small however long they are
    # (a B-tree entry over five 255-character fields could pass PostgreSQL's size limit).
    attribution_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(40), default="")
    utm_source: Mapped[str] = mapped_column(String(255), default="")
    utm_medium: Mapped[str] = mapped_column(String(255), default="")
    utm_campaign: Mapped[str] = mapped_column(String(255), default="")
    utm_term: Mapped[str] = mapped_column(String(255), default="")
    utm_content: Mapped[str] = mapped_column(String(255), default="")
    referrer: Mapped[str] = mapped_column(String(1000), default="")  # an origin only
    signatures: Mapped[int] = mapped_column(Integer, default=0)
