"""one email per address per day, the already-signed notice, confirmed consents

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('supporters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_emailed_at', sa.DateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_requested_at', sa.DateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('confirm_token_hash', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('confirm_expires_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_unique_constraint('uq_consents_confirm_token_hash',
                                          ['confirm_token_hash'])
    # Consents recorded before this were taken at a single tick of a box; they stay
    # pending until their owner confirms, as every new one does. Nobody is opted in
    # on an unconfirmed tick.


def downgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_constraint('uq_consents_confirm_token_hash', type_='unique')
        batch_op.drop_column('confirm_expires_at')
        batch_op.drop_column('confirm_token_hash')
        batch_op.drop_column('confirmed_at')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_column('notice_requested_at')
    with op.batch_alter_table('supporters', schema=None) as batch_op:
        batch_op.drop_column('last_emailed_at')
