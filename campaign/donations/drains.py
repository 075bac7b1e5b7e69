"""The donations' drains, as the outbox registry knows them (see campaign/outbox.py)."""
