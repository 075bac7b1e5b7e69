"""Donations: a page's giving settings, the donor's way through the form (a gift attempt),
the ledger (a row per successful charge, a row per monthly gift), Stripe's events as they
arrived, refunds asked for by staff, and the donor emails the workers send.

Money is an integer in the currency's minor unit (cents; won and yen have none, so 5000
is ₩5,000): campaign.donations.money converts for people.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.common.types import UTCDateTime, utcnow
from campaign.extensions import db


class Frequency(str, enum.Enum):
    ONE_TIME = "one_time"
    MONTHLY = "monthly"


class DonationSettings(db.Model):
    """How a `donation` page asks: currency, amounts, frequencies, fee cover, tribute, goal."""

    __tablename__ = "donation_settings"
    __table_args__ = (
        CheckConstraint("minimum_amount > 0", name="minimum_positive"),
        CheckConstraint("maximum_amount >= minimum_amount", name="maximum_not_below_minimum"),
        CheckConstraint("default_amount BETWEEN minimum_amount AND maximum_amount",
                        name="default_in_range"),
        CheckConstraint("offer_one_time OR offer_monthly", name="offers_a_frequency"),
        CheckConstraint("default_frequency IN ('one_time', 'monthly')",
                        name="default_frequency"),
        CheckConstraint("fee_cover_basis_points BETWEEN 0 AND 2000", name="fee_cover_range"),
        CheckConstraint("goal_amount >= 0", name="goal_not_negative"),
    )

    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default="usd")  # ISO 4217, lower case
    # Minor units, comma-separated, in the order shown: "1000,2500,5000,10000".
    suggested_amounts: Mapped[str] = mapped_column(String(200), default="")
    default_amount: Mapped[int] = mapped_column(Integer)
    minimum_amount: Mapped[int] = mapped_column(Integer)
    maximum_amount: Mapped[int] = mapped_column(Integer)
    offer_one_time: Mapped[bool] = mapped_column(Boolean, default=True)
    offer_monthly: Mapped[bool] = mapped_column(Boolean, default=True)
    default_frequency: Mapped[str] = mapped_column(String(10), default=Frequency.ONE_TIME.value)
    # "Cover the processing fee" adds this share of the gift (300 = 3 %); 0 offers none.
    fee_cover_basis_points: Mapped[int] = mapped_column(Integer, default=0)
    tribute_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The money thermometer's goal in minor units; 0 shows none.
    goal_amount: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def suggested(self) -> list[int]:
        return [int(part) for part in self.suggested_amounts.split(",") if part.strip()]


class AttemptStatus(str, enum.Enum):
    OPEN = "open"  # amount chosen, card not yet given
    PROCESSING = "processing"  # a PaymentIntent or subscription exists
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # too many failed confirmations: a new attempt is needed
    ABANDONED = "abandoned"


class GiftAttempt(db.Model):
    """One donor's way from the amount step to the card step and its outcome. Our own row:
    every Stripe object made for it takes an idempotency key derived from its id."""

    __tablename__ = "gift_attempts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee_amount >= 0", name="fee_not_negative"),
        CheckConstraint("frequency IN ('one_time', 'monthly')", name="frequency"),
        CheckConstraint("status IN ('open', 'processing', 'succeeded', 'failed', "
                        "'abandoned')", name="status"),
        # The per-email velocity limit counts an address's recent attempts.
        Index("ix_gift_attempts_email_created", "email", "created_at"),
        Index("ix_gift_attempts_visitor_created", "visitor_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the card step's URL token (common.tokens.token_digest): the database never
    # holds a link that works.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    # The gift itself, and what the donor added to cover the fee; charged: the sum.
    amount: Mapped[int] = mapped_column(Integer)
    fee_amount: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    frequency: Mapped[str] = mapped_column(String(10))
    tribute_kind: Mapped[str] = mapped_column(String(10), default="")  # honour | memory
    tribute_name: Mapped[str] = mapped_column(String(200), default="")
    tribute_notify_email: Mapped[str] = mapped_column(String(254), default="")
    source: Mapped[str] = mapped_column(String(40), default="")
    utm_source: Mapped[str] = mapped_column(String(255), default="")
    utm_medium: Mapped[str] = mapped_column(String(255), default="")
    utm_campaign: Mapped[str] = mapped_column(String(255), default="")
    # A keyed hash of the visitor's address (never the address): the cap on failed
    # confirmations counts per visitor.
    visitor_key: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(12), default=AttemptStatus.OPEN.value)
    failed_confirmations: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_setup_intent_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def charged_amount(self) -> int:
        return self.amount + self.fee_amount


class DonationStatus(str, enum.Enum):
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Donation(db.Model):
    """The ledger: one row per successful charge, one-time or a month of a monthly gift.
    Written from Stripe's objects (campaign.donations.ledger), keyed by the PaymentIntent,
    so however often and in whatever order an event arrives there is one row."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_refunded BETWEEN 0 AND amount", name="refund_within_amount"),
        CheckConstraint("frequency IN ('one_time', 'monthly')", name="frequency"),
        CheckConstraint("status IN ('succeeded', 'partially_refunded', 'refunded')",
                        name="status"),
        Index("ix_donations_page_charged", "action_page_id", "charged_at"),
        Index("ix_donations_charged", "charged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_payment_intent_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    action_page_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_pages.id", ondelete="SET NULL"))
    # Kept when the donor's personal data is erased: the money was given all the same.
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True)
    gift_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("gift_attempts.id", ondelete="SET NULL"), index=True)
    monthly_gift_id: Mapped[int | None] = mapped_column(
        ForeignKey("monthly_gifts.id", ondelete="SET NULL"), index=True)
    frequency: Mapped[str] = mapped_column(String(10))
    # What was charged (the gift and the fee covered), in minor units.
    amount: Mapped[int] = mapped_column(Integer)
    fee_covered: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=DonationStatus.SUCCEEDED.value)
    # The latest dispute's state ('' when none), its amount, and the Stripe `created` time
    # of the event that said so: an older event never overwrites a newer one.
    dispute_status: Mapped[str] = mapped_column(String(30), default="")
    dispute_amount: Mapped[int] = mapped_column(Integer, default=0)
    dispute_event_created: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(40), default="")
    utm_source: Mapped[str] = mapped_column(String(255), default="")
    utm_medium: Mapped[str] = mapped_column(String(255), default="")
    utm_campaign: Mapped[str] = mapped_column(String(255), default="")
    charged_at: Mapped[datetime] = mapped_column(UTCDateTime)  # Stripe's time of the charge
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped["Supporter | None"] = relationship()  # noqa: F821 - resolved by name
    monthly_gift: Mapped["MonthlyGift | None"] = relationship()

    @property
    def net_amount(self) -> int:
        return self.amount - self.amount_refunded


class MonthlyGiftStatus(str, enum.Enum):
    INCOMPLETE = "incomplete"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


class MonthlyGift(db.Model):
    """A monthly gift: one Stripe subscription, mirrored from Stripe's own state."""

    __tablename__ = "monthly_gifts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('incomplete', 'active', 'past_due', 'canceled')",
                        name="status"),
        Index("ix_monthly_gifts_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    action_page_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_pages.id", ondelete="SET NULL"), index=True)
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True)
    gift_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("gift_attempts.id", ondelete="SET NULL"))
    # Charged each month (the gift and any fee covered), in minor units.
    amount: Mapped[int] = mapped_column(Integer)
    fee_covered: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default=MonthlyGiftStatus.INCOMPLETE.value)
    next_charge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Failed payments in a row; DONATION_MAX_PAYMENT_FAILURES of them end the gift.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # Why it ended, in words staff read ("cancelled by the donor", "3 failed payments").
    ended_reason: Mapped[str] = mapped_column(String(200), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped["Supporter | None"] = relationship()  # noqa: F821 - resolved by name


class EventStatus(str, enum.Enum):
    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"  # could not be applied after DONATION_EVENT_MAX_ATTEMPTS tries


class StripeEvent(db.Model):
    """A webhook event, stored once by its id as it arrived (verified), applied by a worker."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'applying', 'applied', 'failed')",
                        name="status"),
        Index("ix_stripe_events_pending", "received_at",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_stripe_events_applying", "claimed_at",
              postgresql_where=text("status = 'applying'"),
              sqlite_where=text("status = 'applying'")),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_…
    type: Mapped[str] = mapped_column(String(100))
    stripe_created: Mapped[int] = mapped_column(Integer)  # the event's `created` (Unix time)
    payload: Mapped[str] = mapped_column(Text)  # the verified body, as received
    status: Mapped[str] = mapped_column(String(10), default=EventStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class RefundStatus(str, enum.Enum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DonationRefund(db.Model):
    """A refund staff asked for; its id is the idempotency key of the Stripe call. The
    ledger's amount_refunded follows Stripe's charge, not these rows."""

    __tablename__ = "donation_refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('requested', 'succeeded', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(
        ForeignKey("donations.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=RefundStatus.REQUESTED.value)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DonorEmailKind(str, enum.Enum):
    RECEIPT = "receipt"  # every successful charge
    DUNNING = "dunning"  # a monthly payment failed: update your card
    GIFT_ENDED = "gift_ended"  # a monthly gift ended after failed payments
    TRIBUTE = "tribute"  # tells the honouree of a gift made in their name
    STATEMENT = "statement"  # a year's giving


class DonorEmailStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to send any more (the donor was erased)


class DonorEmail(db.Model):
    """An email owed to a donor (or an honouree), sent by the donations' mail drain.
    `dedupe_key` is unique: 'receipt:<donation id>', 'dunning:<invoice id>',
    'tribute:<donation id>', 'gift_ended:<monthly gift id>', 'statement:<supporter id>:<year>'.
    Whatever asks twice, the email exists, and is sent, once."""

    __tablename__ = "donor_emails"
    __table_args__ = (
        CheckConstraint("kind IN ('receipt', 'dunning', 'gift_ended', 'tribute', "
                        "'statement')", name="kind"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'skipped')",
                        name="status"),
        Index("ix_donor_emails_due", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_donor_emails_unfinished", "status", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    donation_id: Mapped[int | None] = mapped_column(
        ForeignKey("donations.id", ondelete="CASCADE"), index=True)
    monthly_gift_id: Mapped[int | None] = mapped_column(
        ForeignKey("monthly_gifts.id", ondelete="CASCADE"), index=True)
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=DonorEmailStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GiftBlockCount(db.Model):
    """Card-testing defence: attempts refused before any PaymentIntent, per page, UTC day
    and reason ('rate', 'email_rate', 'honeypot', 'challenge', 'failures', 'amount'), as
    counts for staff; nothing here names a person."""

    __tablename__ = "gift_block_counts"

    action_page_id: Mapped[int] = mapped_column(
        ForeignKey("action_pages.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(20), primary_key=True)
    blocked: Mapped[int] = mapped_column(Integer, default=0)


class UsedChallenge(db.Model):
    """A proof-of-work challenge already spent, remembered until it expires: the ALTCHA
    library verifies a solution but does not stop it being replayed."""

    __tablename__ = "used_challenges"

    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
