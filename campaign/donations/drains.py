"""The donations' drains, as the outbox registry knows them (see campaign/outbox.py)."""

from campaign.donations.donor_emails import DONOR_EMAILS_DRAIN
from campaign.donations.events import APPLY_EVENTS, SWEEP_EVENTS, oldest_event_due_since
from campaign.donations.mailer import oldest_donor_email_due_since
from campaign.outbox import Drain, register

# Receipts, tribute notices, dunning, gift ended and statements (workers/donations.py).
DONOR_EMAILS = register(Drain(
    name=DONOR_EMAILS_DRAIN, task_module="workers.donations",
    claim_expiry_setting="DONOR_EMAIL_CLAIM_EXPIRES_SECONDS",
    sweep="donations.sweep_donor_emails", sweep_beat_key="sweep-donor-emails",
    oldest_due_since=oldest_donor_email_due_since))

# Stripe's webhook events, applied to the ledger (workers/stripe_events.py).
APPLY = register(Drain(
    name=APPLY_EVENTS, task_module="workers.stripe_events",
    claim_expiry_setting="STRIPE_EVENT_CLAIM_EXPIRES_SECONDS",
    sweep=SWEEP_EVENTS, sweep_beat_key="sweep-stripe-events",
    oldest_due_since=oldest_event_due_since))
