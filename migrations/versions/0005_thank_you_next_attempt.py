"""thank-you runs: emails wait for their retry in the database; an index of pending ones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 21:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thank_you_next_attempt_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index('ix_actions_thank_you_due', ['id'], unique=False,
                              postgresql_where=sa.text("thank_you_status = 'pending'"),
                              sqlite_where=sa.text("thank_you_status = 'pending'"))


def downgrade():
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_thank_you_due',
                            postgresql_where=sa.text("thank_you_status = 'pending'"),
                            sqlite_where=sa.text("thank_you_status = 'pending'"))
        batch_op.drop_column('thank_you_next_attempt_at')
