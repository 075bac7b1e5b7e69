"""donations: giving settings, gift attempts, the ledger (donations, monthly gifts), Stripe events, refunds, donor emails, card-testing counts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 08:40:15.233798

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('stripe_created', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'applying', 'applied', 'failed')", name=op.f('ck_stripe_events_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_events_applying', ['claimed_at'], unique=False, postgresql_where=sa.text("status = 'applying'"), sqlite_where=sa.text("status = 'applying'"))
        batch_op.create_index('ix_stripe_events_pending', ['received_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('used_challenges',
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('signature', name=op.f('pk_used_challenges'))
    )
    with op.batch_alter_table('used_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_challenges_expires_at'), ['expires_at'], unique=False)

    op.create_table('donation_settings',
    sa.Column('action_page_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('suggested_amounts', sa.String(length=200), nullable=False),
    sa.Column('default_amount', sa.Integer(), nullable=False),
    sa.Column('minimum_amount', sa.Integer(), nullable=False),
    sa.Column('maximum_amount', sa.Integer(), nullable=False),
    sa.Column('offer_one_time', sa.Boolean(), nullable=False),
    sa.Column('offer_monthly', sa.Boolean(), nullable=False),
    sa.Column('default_frequency', sa.String(length=10), nullable=False),
    sa.Column('fee_cover_basis_points', sa.Integer(), nullable=False),
    sa.Column('tribute_enabled', sa.Boolean(), nullable=False),
    sa.Column('goal_amount', sa.Integer(), nullable=False),
    sa.CheckConstraint("default_frequency IN ('one_time', 'monthly')", name=op.f('ck_donation_settings_default_frequency')),
    sa.CheckConstraint('default_amount BETWEEN minimum_amount AND maximum_amount', name=op.f('ck_donation_settings_default_in_range')),
    sa.CheckConstraint('fee_cover_basis_points BETWEEN 0 AND 2000', name=op.f('ck_donation_settings_fee_cover_range')),
    sa.CheckConstraint('goal_amount >= 0', name=op.f('ck_donation_settings_goal_not_negative')),
    sa.CheckConstraint('maximum_amount >= minimum_amount', name=op.f('ck_donation_settings_maximum_not_below_minimum')),
    sa.CheckConstraint('minimum_amount > 0', name=op.f('ck_donation_settings_minimum_positive')),
    sa.CheckConstraint('offer_one_time OR offer_monthly', name=op.f('ck_donation_settings_offers_a_frequency')),
    sa.ForeignKeyConstraint(['action_page_id'], ['action_pages.id'], name=op.f('fk_donation_settings_action_page_id_action_pages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_page_id', name=op.f('pk_donation_settings'))
    )
    op.create_table('gift_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('action_page_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('fee_amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('tribute_kind', sa.String(length=10), nullable=False),
    sa.Column('tribute_name', sa.String(length=200), nullable=False),
    sa.Column('tribute_notify_email', sa.String(length=254), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('utm_source', sa.String(length=255), nullable=False),
    sa.Column('utm_medium', sa.String(length=255), nullable=False),
    sa.Column('utm_campaign', sa.String(length=255), nullable=False),
    sa.Column('visitor_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('failed_confirmations', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_setup_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("frequency IN ('one_time', 'monthly')", name=op.f('ck_gift_attempts_frequency')),
    sa.CheckConstraint("status IN ('open', 'processing', 'succeeded', 'failed', 'abandoned')", name=op.f('ck_gift_attempts_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_gift_attempts_amount_positive')),
    sa.CheckConstraint('fee_amount >= 0', name=op.f('ck_gift_attempts_fee_not_negative')),
    sa.ForeignKeyConstraint(['action_page_id'], ['action_pages.id'], name=op.f('fk_gift_attempts_action_page_id_action_pages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift_attempts')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_gift_attempts_token_digest'))
    )
    with op.batch_alter_table('gift_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gift_attempts_action_page_id'), ['action_page_id'], unique=False)
        batch_op.create_index('ix_gift_attempts_email_created', ['email', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gift_attempts_stripe_payment_intent_id'), ['stripe_payment_intent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gift_attempts_stripe_subscription_id'), ['stripe_subscription_id'], unique=False)
        batch_op.create_index('ix_gift_attempts_visitor_created', ['visitor_key', 'created_at'], unique=False)

    op.create_table('gift_block_counts',
    sa.Column('action_page_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('blocked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_page_id'], ['action_pages.id'], name=op.f('fk_gift_block_counts_action_page_id_action_pages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_page_id', 'day', 'reason', name=op.f('pk_gift_block_counts'))
    )
    op.create_table('monthly_gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('action_page_id', sa.Integer(), nullable=True),
    sa.Column('supporter_id', sa.Integer(), nullable=True),
    sa.Column('gift_attempt_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('fee_covered', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('next_charge_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('ended_reason', sa.String(length=200), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('incomplete', 'active', 'past_due', 'canceled')", name=op.f('ck_monthly_gifts_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_monthly_gifts_amount_positive')),
    sa.ForeignKeyConstraint(['action_page_id'], ['action_pages.id'], name=op.f('fk_monthly_gifts_action_page_id_action_pages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gift_attempt_id'], ['gift_attempts.id'], name=op.f('fk_monthly_gifts_gift_attempt_id_gift_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporters.id'], name=op.f('fk_monthly_gifts_supporter_id_supporters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_gifts')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_monthly_gifts_stripe_subscription_id'))
    )
    with op.batch_alter_table('monthly_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_gifts_action_page_id'), ['action_page_id'], unique=False)
        batch_op.create_index('ix_monthly_gifts_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_gifts_supporter_id'), ['supporter_id'], unique=False)

    op.create_table('donations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('action_page_id', sa.Integer(), nullable=True),
    sa.Column('supporter_id', sa.Integer(), nullable=True),
    sa.Column('gift_attempt_id', sa.Integer(), nullable=True),
    sa.Column('monthly_gift_id', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('fee_covered', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_refunded', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('dispute_status', sa.String(length=30), nullable=False),
    sa.Column('dispute_amount', sa.Integer(), nullable=False),
    sa.Column('dispute_event_created', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('utm_source', sa.String(length=255), nullable=False),
    sa.Column('utm_medium', sa.String(length=255), nullable=False),
    sa.Column('utm_campaign', sa.String(length=255), nullable=False),
    sa.Column('charged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("frequency IN ('one_time', 'monthly')", name=op.f('ck_donations_frequency')),
    sa.CheckConstraint("status IN ('succeeded', 'partially_refunded', 'refunded')", name=op.f('ck_donations_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_donations_amount_positive')),
    sa.CheckConstraint('amount_refunded BETWEEN 0 AND amount', name=op.f('ck_donations_refund_within_amount')),
    sa.ForeignKeyConstraint(['action_page_id'], ['action_pages.id'], name=op.f('fk_donations_action_page_id_action_pages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gift_attempt_id'], ['gift_attempts.id'], name=op.f('fk_donations_gift_attempt_id_gift_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['monthly_gift_id'], ['monthly_gifts.id'], name=op.f('fk_donations_monthly_gift_id_monthly_gifts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporters.id'], name=op.f('fk_donations_supporter_id_supporters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donations')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_donations_stripe_payment_intent_id'))
    )
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.create_index('ix_donations_charged', ['charged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_gift_attempt_id'), ['gift_attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_monthly_gift_id'), ['monthly_gift_id'], unique=False)
        batch_op.create_index('ix_donations_page_charged', ['action_page_id', 'charged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_stripe_charge_id'), ['stripe_charge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_stripe_invoice_id'), ['stripe_invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_supporter_id'), ['supporter_id'], unique=False)

    op.create_table('donation_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donation_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'succeeded', 'failed')", name=op.f('ck_donation_refunds_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_donation_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_donation_refunds_donation_id_donations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], name=op.f('fk_donation_refunds_staff_user_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donation_refunds'))
    )
    with op.batch_alter_table('donation_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donation_refunds_donation_id'), ['donation_id'], unique=False)

    op.create_table('donor_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('donation_id', sa.Integer(), nullable=True),
    sa.Column('monthly_gift_id', sa.Integer(), nullable=True),
    sa.Column('supporter_id', sa.Integer(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('receipt', 'dunning', 'gift_ended', 'tribute', 'statement')", name=op.f('ck_donor_emails_kind')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name=op.f('ck_donor_emails_status')),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_donor_emails_donation_id_donations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['monthly_gift_id'], ['monthly_gifts.id'], name=op.f('fk_donor_emails_monthly_gift_id_monthly_gifts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporters.id'], name=op.f('fk_donor_emails_supporter_id_supporters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donor_emails')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_donor_emails_dedupe_key'))
    )
    with op.batch_alter_table('donor_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donor_emails_donation_id'), ['donation_id'], unique=False)
        batch_op.create_index('ix_donor_emails_due', ['id'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index(batch_op.f('ix_donor_emails_monthly_gift_id'), ['monthly_gift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donor_emails_supporter_id'), ['supporter_id'], unique=False)
        batch_op.create_index('ix_donor_emails_unfinished', ['status', 'claimed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('donor_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_donor_emails_unfinished')
        batch_op.drop_index(batch_op.f('ix_donor_emails_supporter_id'))
        batch_op.drop_index(batch_op.f('ix_donor_emails_monthly_gift_id'))
        batch_op.drop_index('ix_donor_emails_due', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_donor_emails_donation_id'))

    op.drop_table('donor_emails')
    with op.batch_alter_table('donation_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donation_refunds_donation_id'))

    op.drop_table('donation_refunds')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donations_supporter_id'))
        batch_op.drop_index(batch_op.f('ix_donations_stripe_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_donations_stripe_charge_id'))
        batch_op.drop_index('ix_donations_page_charged')
        batch_op.drop_index(batch_op.f('ix_donations_monthly_gift_id'))
        batch_op.drop_index(batch_op.f('ix_donations_gift_attempt_id'))
        batch_op.drop_index('ix_donations_charged')

    op.drop_table('donations')
    with op.batch_alter_table('monthly_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monthly_gifts_supporter_id'))
        batch_op.drop_index('ix_monthly_gifts_status')
        batch_op.drop_index(batch_op.f('ix_monthly_gifts_action_page_id'))

    op.drop_table('monthly_gifts')
    op.drop_table('gift_block_counts')
    with op.batch_alter_table('gift_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_gift_attempts_visitor_created')
        batch_op.drop_index(batch_op.f('ix_gift_attempts_stripe_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_gift_attempts_stripe_payment_intent_id'))
        batch_op.drop_index('ix_gift_attempts_email_created')
        batch_op.drop_index(batch_op.f('ix_gift_attempts_action_page_id'))

    op.drop_table('gift_attempts')
    op.drop_table('donation_settings')
    with op.batch_alter_table('used_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_challenges_expires_at'))

    op.drop_table('used_challenges')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_stripe_events_applying', postgresql_where=sa.text("status = 'applying'"), sqlite_where=sa.text("status = 'applying'"))

    op.drop_table('stripe_events')
