"""staff admins: erasure and the activity record are for admins only

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 06:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    # Every account could do everything before this: nobody loses a power by upgrading.
    op.execute(sa.text("UPDATE staff_users SET is_admin = true"))


def downgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('is_admin')
