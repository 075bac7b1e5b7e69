"""The letters' drains, as the outbox registry knows them (see campaign/outbox.py)."""

from campaign.letters.delivery import oldest_letter_due_since
from campaign.outbox import Drain, Periodic, register, register_periodic

DELIVER = register(Drain(
    name="letters.deliver", task_module="workers.letters",
    claim_expiry_setting="LETTER_CLAIM_EXPIRES_SECONDS",
    sweep="letters.sweep", sweep_beat_key="sweep-letters",
    oldest_due_since=oldest_letter_due_since))

# A digest claims letters as a delivery run does; the letters' sweep gives back the letters
# of an interrupted digest, and the next digest run (beat's) takes them.
DIGESTS = register(Drain(
    name="letters.send_digests", task_module="workers.letters",
    claim_expiry_setting="LETTER_CLAIM_EXPIRES_SECONDS", sweep="letters.sweep"))
register_periodic(Periodic(key="send-letter-digests", task="letters.send_digests",
                           task_module="workers.letters", every_setting="DIGEST_EVERY_SECONDS"))
