"""Yearly giving statements: one STATEMENT donor email per donor who gave that year.

Queued by one INSERT ... SELECT, however many donors there are; its dedupe key
('statement:<supporter id>:<year>') makes a second run of the command queue nothing, so
each donor gets one statement a year. The donor-email drain builds and sends them
(campaign.donations.emails.build_statement): the sums are those of when it is sent.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import String, cast, func, literal, select

from campaign.common.sql import upsert_insert
from campaign.common.types import utcnow
from campaign.donations.models import (
    Donation,
    DonorEmail,
    DonorEmailKind,
    DonorEmailStatus,
)
from campaign.extensions import db
from campaign.supporters.models import Supporter


def queue_statements(year: int) -> int:
    """Adds a statement for every donor not erased whose gifts charged in `year` (UTC)
    are worth more than nothing net of refunds, unless they have one; returns how many
    were added. Flushes; the caller commits and then asks for a drain run."""
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    donors = (
        select(
            (literal("statement:") + cast(Donation.supporter_id, String)
             + literal(f":{year}")).label("dedupe_key"),
            literal(DonorEmailKind.STATEMENT.value).label("kind"),
            Donation.supporter_id, literal(year).label("year"),
            literal(DonorEmailStatus.PENDING.value).label("status"),
            literal(0).label("attempts"), literal("").label("last_error"),
            literal(utcnow(), DonorEmail.created_at.type).label("created_at"))
        .join(Supporter, Supporter.id == Donation.supporter_id)
        .where(Supporter.erased_at.is_(None), Donation.charged_at >= start,
               Donation.charged_at < end)
        .group_by(Donation.supporter_id)
        .having(func.sum(Donation.amount - Donation.amount_refunded) > 0))
    insert = upsert_insert(db.engine.dialect.name)
    statement = insert(DonorEmail).from_select(
        ["dedupe_key", "kind", "supporter_id", "year", "status", "attempts", "last_error",
         "created_at"], donors).on_conflict_do_nothing(index_elements=["dedupe_key"])
    # Counted through RETURNING: an INSERT's rowcount is -1 here (SQLAlchemy 2.1 with
    # psycopg, measured).
    return len(db.session.execute(statement.returning(DonorEmail.id)).all())
