"""The donations' drains, as the outbox registry knows them (see campaign/outbox.py)."""

from campaign.donations.events import APPLY_EVENTS, SWEEP_EVENTS, oldest_event_due_since
from campaign.outbox import Drain, register

APPLY = register(Drain(
    name=APPLY_EVENTS, task_module="workers.stripe_events",
    claim_expiry_setting="STRIPE_EVENT_CLAIM_EXPIRES_SECONDS",
    sweep=SWEEP_EVENTS, sweep_beat_key="sweep-stripe-events",
    oldest_due_since=oldest_event_due_since))
