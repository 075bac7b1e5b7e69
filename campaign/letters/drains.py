"""The letters' drains, as the outbox registry knows them (see campaign/outbox.py)."""

from campaign.letters.delivery import oldest_letter_due_since
from campaign.outbox import Drain, register

DELIVER = register(Drain(
    name="letters.deliver", task_module="workers.letters",
    claim_expiry_setting="LETTER_CLAIM_EXPIRES_SECONDS",
    sweep="letters.sweep", beat_key="sweep-letters",
    oldest_due_since=oldest_letter_due_since))

# A digest run is its own sweep: each run gathers every letter still waiting.
DIGESTS = register(Drain(
    name="letters.send_digests", task_module="workers.letters",
    beat_key="send-letter-digests", every_setting="DIGEST_EVERY_SECONDS"))
