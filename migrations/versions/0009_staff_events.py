"""staff events: who changed what, and when

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 06:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], name=op.f('fk_staff_events_staff_user_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_events'))
    )
    with op.batch_alter_table('staff_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_events_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_events_at'))
    op.drop_table('staff_events')
