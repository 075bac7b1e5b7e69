"""Private links to a supporter's letters' status page, without a login.

A link carries a random token (nothing in it counts actions or names one) and works
until it expires or the supporter's data is erased. Only the token's SHA-256 is looked
up. The receipt, built later by a worker, needs the token itself: it is kept sealed, XORed
with an HMAC of the action id under SECRET_KEY, so a copy of the database alone opens no
status page. Whoever holds both could read the letters in the database anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from campaign.common.tokens import token_digest
from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters.models import LetterStatusLink
from campaign.supporters.models import Action

TOKEN_BYTES = 32
TOKEN_MAX_LENGTH = 64  # a token is 43 characters; anything much longer is not one


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pad(secret_key: str, action_id: int) -> bytes:
    # One pad per action, and one token per action: the XOR never reuses a pad.
    return hmac.new(secret_key.encode(), f"letter-status-link:{action_id}".encode(),
                    hashlib.sha256).digest()


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def create_status_link(action_id: int, *, secret_key: str, valid_for: timedelta) -> str:
    """A new link to the action's letters; returns its token, which is stored only as a
    hash and sealed. Flushes; the caller commits."""
    raw = secrets.token_bytes(TOKEN_BYTES)
    token = _encode(raw)
    db.session.add(LetterStatusLink(
        action_id=action_id, token_hash=token_digest(token),
        sealed_token=_xor(raw, _pad(secret_key, action_id)).hex(),
        expires_at=utcnow() + valid_for))
    db.session.flush()
    return token


def status_link_token(action_id: int, *, secret_key: str) -> str | None:
    """The token of the action's link, for its receipt; None when it has none (erased,
    expired, or written before links were stored) or SECRET_KEY has changed since."""
    link = db.session.get(LetterStatusLink, action_id)
    if link is None or link.expires_at <= utcnow():
        return None
    token = _encode(_xor(bytes.fromhex(link.sealed_token), _pad(secret_key, action_id)))
    return token if hmac.compare_digest(token_digest(token), link.token_hash) else None


def action_for_token(token: str) -> int | None:
    """The action whose unexpired link this is, or None."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return db.session.scalar(
        select(LetterStatusLink.action_id).where(LetterStatusLink.token_hash == token_digest(token),
                                                 LetterStatusLink.expires_at > utcnow()))


def delete_status_links_of(supporter_id: int) -> None:
    """At erasure: every status link of the supporter stops working. Flushes."""
    db.session.execute(
        delete(LetterStatusLink).where(LetterStatusLink.action_id.in_(
            select(Action.id).where(Action.supporter_id == supporter_id)))
        .execution_options(synchronize_session=False))
    db.session.flush()
