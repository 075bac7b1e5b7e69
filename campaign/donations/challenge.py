"""The card step's proof-of-work (ALTCHA, self-hosted): a browser spends a second of CPU
before each start of a payment, which costs a card tester running thousands of them far
more than a donor. The widget (campaign/static/vendor/altcha) solves it; the `altcha`
library signs and verifies it; a spent challenge is remembered until it expires, since
the library alone would accept the same solution again."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import altcha
from flask import current_app
from sqlalchemy import delete

from campaign.common.sql import upsert_insert
from campaign.common.types import utcnow
from campaign.donations.models import UsedChallenge
from campaign.extensions import db

ALGORITHM = "PBKDF2/SHA-256"


class ChallengeRefused(ValueError):
    """The solution is missing, wrong, expired, or was used before."""


def _hmac_key() -> str:
    # Derived, so the challenge key is never the SECRET_KEY itself.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"campaign/gift-challenge",
                    hashlib.sha256).hexdigest()


def new_challenge() -> dict:
    """A signed challenge as the widget fetches it."""
    expires = datetime.now(timezone.utc) + timedelta(
        seconds=current_app.config["GIFT_CHALLENGE_EXPIRES_SECONDS"])
    return altcha.create_challenge(ALGORITHM, current_app.config["GIFT_CHALLENGE_COST"],
                                   expires_at=expires, hmac_secret=_hmac_key()).to_dict()


def spend_solution(payload: str | None) -> None:
    """Verifies the solved `payload` (the widget's base64 JSON) and marks its challenge
    spent. Raises ChallengeRefused. Flushes; the caller commits."""
    if not payload or len(payload) > 4000:
        raise ChallengeRefused("The check that you are not a robot did not finish. Please "
                               "wait for it, then try again.")
    result = altcha.verify_solution(payload, _hmac_key())
    if not result.verified:
        raise ChallengeRefused("The check that you are not a robot failed or expired. "
                               "Please reload the page and try again.")
    challenge = altcha.Payload.from_base64(payload).challenge
    expires_at = datetime.fromtimestamp(int(challenge.parameters.expires_at), timezone.utc)
    statement = upsert_insert(db.engine.dialect.name)(UsedChallenge).values(
        signature=challenge.signature, expires_at=expires_at).on_conflict_do_nothing(
    ).returning(UsedChallenge.signature)
    if db.session.execute(statement).first() is None:  # it was there already
        raise ChallengeRefused("This check was already used. Please reload the page and try "
                               "again.")
    db.session.execute(delete(UsedChallenge).where(UsedChallenge.expires_at < utcnow()))
