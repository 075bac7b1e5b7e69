"""letter delivery runs: an index of queued letters, and per-target cap windows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 21:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('letter_cap_windows',
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('letters', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['targets.id'], name=op.f('fk_letter_cap_windows_target_id_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('target_id', name=op.f('pk_letter_cap_windows'))
    )
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index('ix_letters_queued', ['id'], unique=False,
                              postgresql_where=sa.text("status = 'queued'"),
                              sqlite_where=sa.text("status = 'queued'"))


def downgrade():
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_queued', postgresql_where=sa.text("status = 'queued'"),
                            sqlite_where=sa.text("status = 'queued'"))
    op.drop_table('letter_cap_windows')
