"""CSRF protection for the forms on public action pages: a signed double-submit cookie.

Staff forms keep Flask-WTF's session-bound tokens. Supporter pages don't use the session:
a visitor gets one random cookie and the page's form carries an HMAC of it, so a page
view signs nothing, stores nothing server-side and needs no session cookie. A cross-site
POST can't read the cookie to forge the matching token, and SameSite=Lax keeps browsers
from sending it along with such a POST at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from functools import wraps

from flask import Response, current_app, g, request
from flask_wtf.csrf import CSRFError

from campaign.extensions import csrf

COOKIE_NAME = "campaign_form"
FIELD_NAME = "csrf_token"
_PURPOSE = b"public-form-csrf:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_nonce() -> str:
    return _b64(os.urandom(16))


def token_for(secret_key: str, nonce: str) -> str:
    return _b64(hmac.new(secret_key.encode(), _PURPOSE + nonce.encode(),
                         hashlib.sha256).digest())


NONCE = "[A-Za-z0-9_-]{22}"  # 16 random bytes, URL-safe base64 without padding
_NONCE = re.compile(NONCE)


def valid_nonce(value: str | None) -> bool:
    return value is not None and _NONCE.fullmatch(value) is not None


def cookie_header(nonce: str, *, secure: bool) -> str:
    """The Set-Cookie value. A browser-session cookie (no expiry): a page left open over
    lunch must still submit. The nonce is URL-safe base64, so it needs no quoting."""
    return f"{COOKIE_NAME}={nonce}; HttpOnly; Path=/; SameSite=Lax{'; Secure' if secure else ''}"


def form_token() -> str:
    """The token for this visitor's forms; sets their cookie on the response if new."""
    nonce = request.cookies.get(COOKIE_NAME)
    if not valid_nonce(nonce):
        nonce = g.get("new_form_cookie")
        if nonce is None:
            nonce = g.new_form_cookie = new_nonce()
    return token_for(current_app.secret_key, nonce)


def set_form_cookie(response: Response) -> Response:
    """after_request: hands a first-time visitor the cookie their form's token matches."""
    nonce = g.get("new_form_cookie")
    if nonce is not None:
        response.headers.add("Set-Cookie", cookie_header(
            nonce, secure=bool(current_app.config.get("SESSION_COOKIE_SECURE"))))
    return response


def check_form_token() -> None:
    """Raises CSRFError unless the posted token matches this visitor's cookie."""
    nonce = request.cookies.get(COOKIE_NAME)
    token = request.form.get(FIELD_NAME, "")
    if not valid_nonce(nonce) or not hmac.compare_digest(
            token.encode(), token_for(current_app.secret_key, nonce).encode()):
        raise CSRFError("The form's token is missing or does not match.")


def public_post_limit() -> str:
    """The rate limit of every POST on a supporter page (SIGN_RATE_LIMIT), per client
    address: `@limiter.limit(public_post_limit, methods=["POST"])`."""
    return current_app.config["SIGN_RATE_LIMIT"]


def public_form(view: Callable) -> Callable:
    """For a POST view on a supporter page: this check instead of the session-bound one."""

    @wraps(view)
    def checked(*args, **kwargs):
        check_form_token()
        return view(*args, **kwargs)

    return csrf.exempt(checked)
