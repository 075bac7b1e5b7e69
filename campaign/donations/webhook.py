"""POST /stripe/webhook: Stripe's events, verified on the raw body and stored once by id.

Nothing is applied here: the answer comes in milliseconds (Stripe retries an event whose
answer is slow or not 2xx, and a slow endpoint only makes more duplicates), and a worker
applies the stored event (campaign.donations.events, workers/stripe_events.py). A
duplicate is stored no second time and answers 200 as the first did.
"""

from __future__ import annotations

from flask import Blueprint, request

from campaign import outbox
from campaign.donations.events import APPLY_EVENTS, BadEvent, parse_event, store_event
from campaign.donations.gateway import GivingNotConfigured, SignatureVerificationError, gateway
from campaign.extensions import csrf

webhook_bp = Blueprint("stripe_webhook", __name__)

# Stripe's event bodies are a few kilobytes (an invoice with many lines a few tens); the
# app's 64 KB form limit is too tight for the largest, and nothing bigger is an event.
WEBHOOK_MAX_BYTES = 512 * 1024

PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


@webhook_bp.post("/stripe/webhook")
@csrf.exempt  # Stripe signs the body instead (Stripe-Signature, checked below)
def stripe_webhook():
    # Not rate limited: Stripe sends from a few addresses in bursts, and the signature
    # check refuses anyone else before any write.
    request.max_content_length = WEBHOOK_MAX_BYTES
    payload = request.get_data(cache=False)  # the raw bytes: the signature is over them
    try:
        gateway().verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except GivingNotConfigured:
        return "Online giving is off.\n", 404, PLAIN
    except (ValueError, UnicodeDecodeError):
        return "Missing Stripe-Signature header.\n", 400, PLAIN
    except SignatureVerificationError:
        return "Bad or stale signature.\n", 400, PLAIN
    try:
        event_id, event_type, created = parse_event(payload)
    except BadEvent:
        return "Not a Stripe event.\n", 400, PLAIN
    if store_event(event_id, event_type, created, payload.decode("utf-8")):
        outbox.request_soon(APPLY_EVENTS)
    return "", 200, PLAIN
