"""The supporters' drain, as the outbox registry knows it (see campaign/outbox.py)."""

from campaign.outbox import Drain, register
from campaign.supporters.services import oldest_thank_you_due_since

THANK_YOUS = register(Drain(
    name="supporters.send_thank_yous", task_module="workers.supporters",
    claim_expiry_setting="THANK_YOU_CLAIM_EXPIRES_SECONDS",
    sweep="supporters.sweep_thank_yous", sweep_beat_key="sweep-thank-yous",
    oldest_due_since=oldest_thank_you_due_since))
