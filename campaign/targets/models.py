from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.common.types import UTCDateTime, utcnow
from campaign.extensions import db


class TargetKind(str, enum.Enum):
    US_HOUSE = "us_house"
    US_SENATE = "us_senate"
    CUSTOM = "custom"


CONGRESS_KINDS = (TargetKind.US_HOUSE.value, TargetKind.US_SENATE.value)


class Target(db.Model):
    """Someone a letter can be addressed to.

    Members of Congress are never deleted, since letters refer to them: when they leave
    office their `in_office_to` is set instead.
    """

    __tablename__ = "targets"
    __table_args__ = (
        CheckConstraint("kind IN ('us_house', 'us_senate', 'custom')", name="kind"),
        CheckConstraint("district >= 0", name="district_not_negative"),
        CheckConstraint("in_office_from IS NULL OR in_office_to IS NULL "
                        "OR in_office_from <= in_office_to", name="office_dates_in_order"),
        # NULLs are distinct in a unique constraint on PostgreSQL and SQLite alike, so
        # custom targets without an external id never collide.
        UniqueConstraint("kind", "external_id"),
        Index("ix_targets_kind_state_district", "kind", "state", "district"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # The office as a letter names it: "Representative for NY-12", "Senator for NY".
    title: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str | None] = mapped_column(String(2))
    # 0 is an at-large seat (or a delegate's).
    district: Mapped[int | None] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(254))
    # The bioguide id for members of Congress.
    external_id: Mapped[str | None] = mapped_column(String(40))
    party: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))
    contact_form_url: Mapped[str | None] = mapped_column(String(1000))
    website_url: Mapped[str | None] = mapped_column(String(1000))
    # In office on day D when in_office_from <= D < in_office_to (either end may be open).
    in_office_from: Mapped[date | None] = mapped_column(Date)
    in_office_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def is_current(self, on: date) -> bool:
        return ((self.in_office_from is None or self.in_office_from <= on)
                and (self.in_office_to is None or on < self.in_office_to))

    def __repr__(self) -> str:
        return f"<Target {self.id} {self.kind} {self.name!r} {self.title!r}>"


class TargetList(db.Model):
    """A fixed list of targets that staff upload, for letters that don't go to Congress."""

    __tablename__ = "target_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[TargetListMember]] = relationship(
        back_populates="target_list", order_by="TargetListMember.position",
        cascade="all, delete-orphan")

    @property
    def targets(self) -> list[Target]:
        return [member.target for member in self.members]


class TargetListMember(db.Model):
    __tablename__ = "target_list_members"

    target_list_id: Mapped[int] = mapped_column(
        ForeignKey("target_lists.id", ondelete="CASCADE"), primary_key=True)
    # Restrict: a target that letters may refer to is never deleted along with a list.
    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="RESTRICT"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    target_list: Mapped[TargetList] = relationship(back_populates="members")
    target: Mapped[Target] = relationship()


class ZipDistrict(db.Model):
    """One (ZCTA, state, district) row of the Census-derived crosswalk; many-to-many."""

    __tablename__ = "zip_districts"

    zcta: Mapped[str] = mapped_column(String(5), primary_key=True)
    state: Mapped[str] = mapped_column(String(2), primary_key=True)
    district: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
