"""drain states: how each delivery drain's last runs went, for /healthz and staff

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01 06:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('drain_states',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures_in_a_row', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_drain_states'))
    )


def downgrade():
    op.drop_table('drain_states')
