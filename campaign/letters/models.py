from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.common.types import UTCDateTime, utcnow
from campaign.extensions import db


class OverCap(str, enum.Enum):
    """What happens to letters beyond a target's hourly cap."""

    WAIT = "wait"  # they wait for the next free slot
    DIGEST = "digest"  # the office gets one email bundling them


class LetterSettings(db.Model):
    """How a `letter` page writes: the letter, who it goes to, and how offices are spared."""

    __tablename__ = "letter_settings"
    __table_args__ = (
        CheckConstraint("max_length BETWEEN 100 AND 20000", name="max_length_range"),
        CheckConstraint("target_hourly_cap > 0", name="cap_positive"),
        CheckConstraint("over_cap IN ('wait', 'digest')", name="over_cap"),
    )

    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    # Merge fields: {first_name} {last_name} {full_name} {town} {postal_code}
    # {target_name} {target_title}. Salutation and sign-off are added per target.
    body_template: Mapped[str] = mapped_column(Text)
    is_editable: Mapped[bool] = mapped_column(Boolean, default=True)
    max_length: Mapped[int] = mapped_column(Integer, default=5000)
    targets_house: Mapped[bool] = mapped_column(Boolean, default=False)
    targets_senate: Mapped[bool] = mapped_column(Boolean, default=False)
    target_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("target_lists.id", ondelete="SET NULL"))
    target_hourly_cap: Mapped[int] = mapped_column(Integer, default=60)
    over_cap: Mapped[str] = mapped_column(String(10), default=OverCap.WAIT.value)

    @property
    def uses_representatives(self) -> bool:
        return self.targets_house or self.targets_senate


class LetterStatus(str, enum.Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BATCHED = "batched"
    DELIVERED = "delivered"


class Channel(str, enum.Enum):
    EMAIL = "email"
    DIGEST = "digest"
    FALLBACK = "fallback"  # printed or handed over by staff


class Letter(db.Model):
    """One supporter's letter to one target. The database, not the broker, is the record
    of what still has to be delivered."""

    __tablename__ = "letters"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'batched', "
                        "'delivered')", name="status"),
        CheckConstraint("channel IN ('email', 'digest', 'fallback')", name="channel"),
        # The sweep and the digest look for unfinished letters only.
        Index("ix_letters_unfinished", "status", "next_attempt_at",
              postgresql_where=text("status IN ('queued', 'sending')"),
              sqlite_where=text("status IN ('queued', 'sending')")),
        # The per-target hourly cap counts recent sends to one target.
        Index("ix_letters_target_claimed", "target_id", "claimed_at"),
        # A delivery run takes the oldest queued letters: an index of those alone, so
        # finding a batch never walks past the letters sent before them.
        Index("ix_letters_queued", "id", postgresql_where=text("status = 'queued'"),
              sqlite_where=text("status = 'queued'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique in the database: a retried submission can never create a second letter.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"),
                                           index=True)
    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="RESTRICT"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # salutation and sign-off included
    body_hash: Mapped[str] = mapped_column(String(64), index=True)
    is_personalised: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=LetterStatus.QUEUED.value)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.EMAIL.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a letter waits: for a retry's backoff, or for a free slot under the cap.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("letter_digests.id", ondelete="SET NULL"), index=True)
    fallback_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("fallback_batches.id", ondelete="SET NULL"), index=True)

    target: Mapped["Target"] = relationship()  # noqa: F821 - resolved by name
    action: Mapped["Action"] = relationship()  # noqa: F821
    events: Mapped[list[LetterEvent]] = relationship(
        order_by="LetterEvent.id", cascade="all, delete-orphan")


class LetterEvent(db.Model):
    """A letter's status history."""

    __tablename__ = "letter_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"),
                                           index=True)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CapWindow(db.Model):
    """How many letters a target has been sent in its current hour, for its hourly cap.

    A delivery run locks the rows of its batch's targets and counts on here, in O(1),
    rather than counting the target's recent letters: with a high cap that count grew
    with every letter and became most of the database's work (bench/letters.py). The hour
    starts with the first letter after the last one ended. A claimed letter counts even
    if its send then fails: the cap errs on the side of the office.
    """

    __tablename__ = "letter_cap_windows"

    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"),
                                           primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    letters: Mapped[int] = mapped_column(Integer, default=0)


class LetterDigest(db.Model):
    """One email to an office bundling letters that came in over its hourly cap."""

    __tablename__ = "letter_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="RESTRICT"),
                                           index=True)
    status: Mapped[str] = mapped_column(String(16), default=LetterStatus.SENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class BatchStatus(str, enum.Enum):
    OPEN = "open"
    DELIVERED = "delivered"


class FallbackBatch(db.Model):
    """Letters for one target that email could not carry, for staff to print or hand over."""

    __tablename__ = "fallback_batches"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'delivered')", name="status"),
        # At most one open batch per target, whatever the race.
        Index("uq_fallback_batches_open_target", "target_id", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_note: Mapped[str] = mapped_column(String(500), default="")

    target: Mapped["Target"] = relationship()  # noqa: F821
    letters: Mapped[list[Letter]] = relationship(order_by="Letter.id")


class LetterStatusLink(db.Model):
    """A supporter's private link to their letters' status page.

    The token is random and only its SHA-256 is looked up, so a copy of the database
    alone opens no status page. The receipt email is built later by a worker, which
    needs the token itself: it is kept sealed with a pad derived from SECRET_KEY and the
    action (campaign.letters.status_links). The link ends at `expires_at`, and erasure
    deletes the row.
    """

    __tablename__ = "letter_status_links"

    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"),
                                           primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
