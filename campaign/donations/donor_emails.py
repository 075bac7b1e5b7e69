"""Asking for a donor email: one row in donor_emails per dedupe key, whoever asks and
however often (a webhook applied twice, a statement command run twice). The donations'
mail drain (DONOR_EMAILS_DRAIN) sends each once."""

from __future__ import annotations

from sqlalchemy.orm import Session

from campaign.common.sql import upsert_insert
from campaign.common.types import utcnow
from campaign.donations.models import DonorEmail, DonorEmailKind, DonorEmailStatus

DONOR_EMAILS_DRAIN = "donations.send_donor_emails"


def queue_donor_email(session: Session, kind: DonorEmailKind, dedupe_key: str, *,
                      donation_id: int | None = None, monthly_gift_id: int | None = None,
                      supporter_id: int | None = None, year: int | None = None) -> bool:
    """Adds the email unless one with `dedupe_key` exists; True when this call added it.
    Part of the caller's transaction: the email exists exactly when what caused it does.
    The caller asks for a drain run after its commit."""
    insert = upsert_insert(session.get_bind().dialect.name)
    # On the table, not the mapped class; and RETURNING, not rowcount: this INSERT reports
    # a rowcount of -1 (SQLAlchemy 2.1 with psycopg, measured), which made every call look
    # like a duplicate. DO NOTHING returns no row.
    table = DonorEmail.__table__
    statement = insert(table).values(
        dedupe_key=dedupe_key, kind=kind.value, donation_id=donation_id,
        monthly_gift_id=monthly_gift_id, supporter_id=supporter_id, year=year,
        status=DonorEmailStatus.PENDING.value, attempts=0, last_error="",
        created_at=utcnow()).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return session.execute(statement.returning(table.c.id)).first() is not None
