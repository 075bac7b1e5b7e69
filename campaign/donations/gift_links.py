"""The signed links a monthly donor acts through with no login: manage the gift (cancel it,
change its amount) and save a new card after a failed payment.

The link carries only the gift's id, signed with SECRET_KEY (itsdangerous) under a salt
of each link's own, so a manage link never opens the card page or the other way round,
and nothing is stored: a link is good until GIFT_MANAGE_LINK_DAYS after it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

MANAGE_SALT = "campaign.donations.manage-monthly-gift"
CARD_SALT = "campaign.donations.update-card"


class LinkExpired(Exception):
    """A genuine link, older than GIFT_MANAGE_LINK_DAYS."""


class LinkInvalid(Exception):
    """Not a link we made (forged, mistyped, cut short)."""


@dataclass(frozen=True)
class GiftLink:
    monthly_gift_id: int
    issued_at: datetime


def _serializer(salt: str) -> URLSafeTimedSerializer:
    config = current_app.config
    # itsdangerous signs with the last key and accepts any: a rotated key's links still work.
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or ()), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=salt)


def make_token(monthly_gift_id: int, salt: str) -> str:
    return _serializer(salt).dumps(monthly_gift_id)


def read_token(token: str, salt: str) -> GiftLink:
    """The gift a link names; LinkExpired or LinkInvalid when it names none."""
    max_age = current_app.config["GIFT_MANAGE_LINK_DAYS"] * 86400
    try:
        gift_id, issued_at = _serializer(salt).loads(token, max_age=max_age,
                                                      return_timestamp=True)
    except SignatureExpired:
        raise LinkExpired from None
    except BadSignature:
        raise LinkInvalid from None
    if not isinstance(gift_id, int) or isinstance(gift_id, bool) or gift_id <= 0:
        raise LinkInvalid
    return GiftLink(gift_id, issued_at)


def manage_url(monthly_gift_id: int) -> str:
    token = make_token(monthly_gift_id, MANAGE_SALT)
    return f"{current_app.config['BASE_URL']}/gifts/manage/{token}"


def card_url(monthly_gift_id: int) -> str:
    token = make_token(monthly_gift_id, CARD_SALT)
    return f"{current_app.config['BASE_URL']}/gifts/card/{token}"
