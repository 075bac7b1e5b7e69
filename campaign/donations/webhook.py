"""POST /stripe/webhook: Stripe's events, verified on the raw body and stored once by id.

Nothing is applied here: the answer comes in milliseconds (Stripe retries an event whose
answer is slow or not 2xx, and a slow endpoint only makes more duplicates), and a worker
applies the stored event (campaign.donations.events, workers/stripe_events.py). A
duplicate is stored no second time and answers 200 as the first did.

Stripe sends events in bursts (a renewal day, a batch of refunds): the request with a
Content-Length is answered before Flask by WebhookFastPath, whose request context, hooks
and response objects were most of the request's CPU. It runs the same `receive` as the
Flask view, which takes whatever the fast path leaves (no length, too large).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, request

from campaign import outbox
from campaign.donations.events import APPLY_EVENTS, BadEvent, parse_event, store_event
from campaign.donations.gateway import GivingNotConfigured, SignatureVerificationError, gateway
from campaign.extensions import csrf
from campaign.security import SECURITY_HEADERS

webhook_bp = Blueprint("stripe_webhook", __name__)

WEBHOOK_PATH = "/stripe/webhook"
# Stripe's event bodies are a few kilobytes (an invoice with many lines a few tens); the
# app's 64 KB form limit is too tight for the largest, and nothing bigger is an event.
WEBHOOK_MAX_BYTES = 512 * 1024

PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


def receive(payload: bytes, signature_header: str | None) -> tuple[int, str]:
    """Verifies and stores one delivery; (status, text of the answer). In an app context."""
    try:
        gateway().verify_webhook(payload, signature_header)
    except GivingNotConfigured:
        return 404, "Online giving is off.\n"
    except (ValueError, UnicodeDecodeError):
        return 400, "Missing Stripe-Signature header.\n"
    except SignatureVerificationError:
        return 400, "Bad or stale signature.\n"
    try:
        event_id, event_type, created = parse_event(payload)
    except BadEvent:
        return 400, "Not a Stripe event.\n"
    if store_event(event_id, event_type, created, payload.decode("utf-8")):
        outbox.request_soon(APPLY_EVENTS)
    return 200, ""


@webhook_bp.post(WEBHOOK_PATH)
@csrf.exempt  # Stripe signs the body instead (Stripe-Signature, checked in receive)
def stripe_webhook():
    # Not rate limited: Stripe sends from a few addresses in bursts, and the signature
    # check refuses anyone else before any write.
    request.max_content_length = WEBHOOK_MAX_BYTES
    payload = request.get_data(cache=False)  # the raw bytes: the signature is over them
    status, text = receive(payload, request.headers.get("Stripe-Signature"))
    return text, status, PLAIN


_REASONS = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found"}


class WebhookFastPath:
    """POST /stripe/webhook with a Content-Length within the limit, answered before Flask."""

    def __init__(self, wsgi_app: Callable, flask_app: Flask):
        self.wsgi_app = wsgi_app
        self.flask_app = flask_app
        self.headers = [*PLAIN.items(), *SECURITY_HEADERS.items(), ("Cache-Control", "no-store")]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == WEBHOOK_PATH and environ["REQUEST_METHOD"] == "POST":
            length = environ.get("CONTENT_LENGTH", "")
            if length.isdigit() and int(length) <= WEBHOOK_MAX_BYTES:
                return self._serve(environ, start_response, int(length))
        return self.wsgi_app(environ, start_response)

    def _serve(self, environ: dict, start_response: Callable,
               length: int) -> Iterable[bytes]:
        payload = environ["wsgi.input"].read(length) if length else b""
        with self.flask_app.app_context():
            status, text = receive(payload, environ.get("HTTP_STRIPE_SIGNATURE"))
        body = text.encode()
        start_response(_REASONS[status], [*self.headers, ("Content-Length", str(len(body)))])
        return [body]
