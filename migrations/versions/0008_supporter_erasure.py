"""supporters.erased_at: personal data erased at the supporter's request

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('supporters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('supporters', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
