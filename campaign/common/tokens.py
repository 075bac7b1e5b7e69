"""Secret tokens in links and cookies (a letters' status link, an opt-in confirmation, a
staff session): the database keeps only their digest, so a copy of it opens nothing."""

from __future__ import annotations

import hashlib


def token_digest(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by. Any text is accepted, as a
    cookie or an address may carry anything."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
