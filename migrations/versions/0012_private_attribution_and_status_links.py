"""attribution as counts per page and day; random, expiring status links stored hashed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 06:00:00

Where existing signers came from is added up into signature_attribution_counts, then
emptied on their actions unless ATTRIBUTION_PER_PERSON is on when this runs. A downgrade
drops the counts and does not bring the emptied fields back. Status links written before
this (signed action ids) stop working: old receipts' links answer 404.
"""
import hashlib
import os
import re
from datetime import date

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COLUMNS = ('source', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content',
           'referrer')
# As campaign.common.text.without_addresses: no counted value keeps an email address.
EMAIL_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"'@]+@[^\s<>()\[\],;:\"'@]+")


def _per_person() -> bool:
    return (os.environ.get('ATTRIBUTION_PER_PERSON') or '').strip().lower() in (
        '1', 'true', 'yes', 'on')


def upgrade():
    op.create_table('signature_attribution_counts',
    sa.Column('action_page_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('attribution_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('utm_source', sa.String(length=255), nullable=False),
    sa.Column('utm_medium', sa.String(length=255), nullable=False),
    sa.Column('utm_campaign', sa.String(length=255), nullable=False),
    sa.Column('utm_term', sa.String(length=255), nullable=False),
    sa.Column('utm_content', sa.String(length=255), nullable=False),
    sa.Column('referrer', sa.String(length=1000), nullable=False),
    sa.Column('signatures', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_page_id'], ['action_pages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_page_id', 'day', 'attribution_key')
    )
    op.create_table('letter_status_links',
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed_token', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_id'),
    sa.UniqueConstraint('token_hash')
    )

    bind = op.get_bind()
    day = sa.literal_column("(created_at AT TIME ZONE 'UTC')::date"
                            if bind.dialect.name == 'postgresql' else "date(created_at)")
    actions = sa.table('actions', sa.column('action_page_id'), sa.column('created_at'),
                       *(sa.column(c) for c in COLUMNS))
    anything = sa.or_(*(actions.c[c] != '' for c in COLUMNS))
    groups = bind.execute(
        sa.select(actions.c.action_page_id, day, *(actions.c[c] for c in COLUMNS),
                  sa.func.count())
        .where(anything).group_by(actions.c.action_page_id, day,
                                  *(actions.c[c] for c in COLUMNS)))
    counts = {}
    for page_id, on_day, *values, n in groups:
        values = [EMAIL_ADDRESS.sub('<address>', v or '') for v in values]
        key = hashlib.sha256('\x1f'.join(values).encode()).hexdigest()
        entry = counts.setdefault((page_id, str(on_day), key), [values, 0])
        entry[1] += n
    if counts:
        table = sa.table('signature_attribution_counts', sa.column('action_page_id'),
                         sa.column('day', sa.Date()), sa.column('attribution_key'),
                         sa.column('signatures'), *(sa.column(c) for c in COLUMNS))
        bind.execute(table.insert(), [
            {'action_page_id': page_id, 'day': date.fromisoformat(on_day),
             'attribution_key': key, 'signatures': n, **dict(zip(COLUMNS, values))}
            for (page_id, on_day, key), (values, n) in counts.items()])
    if not _per_person():
        bind.execute(actions.update().where(anything).values({c: '' for c in COLUMNS}))


def downgrade():
    op.drop_table('letter_status_links')
    op.drop_table('signature_attribution_counts')
