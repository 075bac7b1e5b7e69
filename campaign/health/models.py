from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.common.types import UTCDateTime
from campaign.extensions import db


class DrainState(db.Model):
    """How the last runs of one drain (a task that works through due rows) went.

    Written by the run itself, on a connection of its own, so a failed run's rolled-back
    transaction cannot take its own record with it. /healthz and the staff pages read it.
    """

    __tablename__ = "drain_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # the task's name
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
