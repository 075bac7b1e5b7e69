"""The card step's calls from give.js (JSON, the visitor's form token in a header):
start a payment behind the card-testing defence, then let Stripe's own records say how
it went. The browser's word is never taken for a payment."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, jsonify, make_response, request, url_for

from campaign.common.errors import describe_error
from campaign.donations import attempts, defence
from campaign.donations.challenge import ChallengeRefused, spend_solution
from campaign.donations.gateway import (
    CardError,
    StripeError,
    as_dict,
    gateway,
    object_id,
)
from campaign.donations.models import AttemptStatus, Frequency, GiftAttempt
from campaign.donations.views import attempt_or_404, attempt_page, private
from campaign.extensions import csrf, db, limiter
from campaign.public_forms import COOKIE_NAME, token_for, valid_nonce

log = logging.getLogger(__name__)
bp = Blueprint("gift_calls", __name__)

TOO_MANY_FAILURES = ("Too many card payments failed from your connection in the last hour. "
                     "Please try again later.")
UNREACHABLE = ("We could not reach our payment processor. Nothing was charged; please try "
               "again in a minute.")
DECLINED = "Your card was declined. Please try another card."
AUTHENTICATION_FAILED = ("Your bank's authentication (3-D Secure) did not succeed, so "
                         "nothing was charged. Please try again or use another card.")
NO_LONGER = "This gift can no longer be completed. Please start again from the page."
THANKS = "donations.thanks"


def _done(token: str):
    """The answer once the gift went through (and was committed): give.js goes to the
    thank-you page."""
    attempts.ask_for_queued_emails()
    return private(jsonify(done=True, redirect=url_for(THANKS, token=token)))


def _check_json_token() -> None:
    """The JSON calls carry the visitor's form token in a header (same double-submit
    cookie as campaign.public_forms)."""
    nonce = request.cookies.get(COOKIE_NAME)
    sent = request.headers.get("X-CSRF-Token", "")
    if not valid_nonce(nonce) or not hmac.compare_digest(
            sent.encode(), token_for(current_app.secret_key, nonce).encode()):
        abort(make_response(jsonify(error="Your session expired. Please reload the page."),
                            400))


def _refuse(attempt: GiftAttempt, reason: str, message: str, status: int):
    defence.record_block(attempt.action_page_id, reason)
    db.session.commit()
    return private(make_response(jsonify(error=message), status))


def _json_error(message: str, status: int):
    return private(make_response(jsonify(error=message), status))


def _stripe_unreachable(error: Exception):
    db.session.rollback()
    log.warning("gift: Stripe call failed: %s", describe_error(error))
    return _json_error(UNREACHABLE, 502)


@bp.post("/give/<token>/start")
@limiter.limit(defence.gift_rate_limit, methods=["POST"],
               on_breach=defence.count_rate_block)
@csrf.exempt
def start(token: str):
    """Checks the visitor's failed confirmations and the proof-of-work, then makes (once
    per attempt) the PaymentIntent, or the customer and SetupIntent of a monthly gift."""
    _check_json_token()
    attempt = attempt_or_404(token, lock=True)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return _done(token)
    if attempt.status != AttemptStatus.OPEN.value and \
            attempt.status != AttemptStatus.PROCESSING.value:
        return _json_error(NO_LONGER, 409)
    if _over_failure_cap(attempt):
        return _refuse(attempt, defence.FAILURES, TOO_MANY_FAILURES, 429)
    body = request.get_json(silent=True) or {}
    try:
        spend_solution(body.get("altcha") if isinstance(body, dict) else None)
    except ChallengeRefused as refused:
        db.session.rollback()
        return _refuse(attempt_or_404(token), defence.CHALLENGE, str(refused), 400)
    page_id = str(attempt.action_page_id)
    try:
        if attempt.frequency == Frequency.ONE_TIME.value:
            secret = _payment_intent_secret(attempt, page_id)
            kind = "payment"
        else:
            secret = _setup_intent_secret(attempt)
            kind = "setup"
    except StripeError as error:
        return _stripe_unreachable(error)
    if _over_failure_cap(attempt):  # a failure found on the PaymentIntent just now
        return _refuse(attempt, defence.FAILURES, TOO_MANY_FAILURES, 429)
    attempts.mark_processing(attempt)
    db.session.commit()
    return private(jsonify(kind=kind, client_secret=secret))


def _over_failure_cap(attempt: GiftAttempt) -> bool:
    """The cap counts per visitor: whoever opened the attempt, and whoever starts it."""
    db.session.flush()
    keys = {attempt.visitor_key, defence.visitor_key()} - {""}
    return any(defence.failures_over_cap(key) for key in keys)


def _payment_intent_secret(attempt: GiftAttempt, page_id: str) -> str:
    stripe = gateway()
    if attempt.stripe_payment_intent_id:
        intent = stripe.retrieve_payment_intent(attempt.stripe_payment_intent_id)
        data = as_dict(intent)
        if data.get("status") == "requires_payment_method" and data.get("last_payment_error"):
            # A retry after a failure the browser never reported: counted all the same.
            attempts.record_failed_confirmation(attempt, _payment_error_message(data),
                                                _failure_id(data))
    else:
        page = attempt_page(attempt)
        intent = stripe.create_payment_intent(
            attempt.id, attempt.charged_amount, attempt.currency, attempt.email,
            f"Gift: {page.title}"[:200] if page else "Gift", {"page": page_id},
            key=attempts.stripe_key(attempt))
        attempt.stripe_payment_intent_id = intent["id"]
    return intent["client_secret"]


def _setup_intent_secret(attempt: GiftAttempt) -> str:
    stripe = gateway()
    if not attempt.stripe_customer_id:
        customer = stripe.create_customer(attempt.id, attempt.email,
                                          f"{attempt.first_name} {attempt.last_name}",
                                          key=attempts.stripe_key(attempt))
        attempt.stripe_customer_id = customer["id"]
    if attempt.stripe_setup_intent_id:
        intent = stripe.retrieve_setup_intent(attempt.stripe_setup_intent_id)
    else:
        intent = stripe.create_setup_intent(attempt.id, attempt.stripe_customer_id,
                                            key=attempts.stripe_key(attempt))
        attempt.stripe_setup_intent_id = intent["id"]
    return intent["client_secret"]


def _failure(attempt: GiftAttempt, message: str, failure_id: str):
    attempts.record_failed_confirmation(attempt, message, failure_id)
    db.session.commit()
    return _json_error(message, 402)


def _failure_id(intent: dict) -> str:
    """Which failure Stripe reports: the failed card's PaymentMethod (new for each card
    tried), else the intent itself."""
    error = intent.get("last_payment_error") or intent.get("last_setup_error") or {}
    return object_id(error.get("payment_method")) or object_id(
        intent.get("payment_method")) or intent.get("id") or "unknown"


def _payment_error_message(intent: dict) -> str:
    error = intent.get("last_payment_error") or {}
    if error.get("code") == "payment_intent_authentication_failure":
        return AUTHENTICATION_FAILED
    if error.get("code") == "card_declined" or error.get("decline_code"):
        return DECLINED
    return DECLINED if error else "The payment did not go through. Please try again."


@bp.post("/give/<token>/finish")
@csrf.exempt
def finish(token: str):
    """After Stripe.js confirmed (or failed to confirm) the payment: Stripe's own record
    decides, never what the browser says."""
    _check_json_token()
    attempt = attempt_or_404(token, lock=True)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return _done(token)
    if attempt.status == AttemptStatus.FAILED.value:
        return _json_error(NO_LONGER, 409)
    try:
        if attempt.frequency == Frequency.MONTHLY.value:
            return _finish_monthly(attempt, token)
        if not attempt.stripe_payment_intent_id:
            return _json_error("This payment has not started yet.", 409)
        intent = as_dict(gateway().retrieve_payment_intent(attempt.stripe_payment_intent_id))
    except StripeError as error:
        return _stripe_unreachable(error)
    if intent.get("status") == "succeeded":
        attempts.mark_succeeded(attempt, intent)
        db.session.commit()
        return _done(token)
    if intent.get("status") == "requires_payment_method" and intent.get("last_payment_error"):
        return _failure(attempt, _payment_error_message(intent), _failure_id(intent))
    return _json_error("The payment is not confirmed yet. Please enter your card and try "
                       "again.", 409)


def _finish_monthly(attempt: GiftAttempt, token: str):
    stripe = gateway()
    if not attempt.stripe_subscription_id:
        return _json_error("This monthly gift has not started yet.", 409)
    subscription = as_dict(stripe.retrieve_subscription(attempt.stripe_subscription_id))
    first = _unpaid_first_month(subscription)
    if first is None:
        return _monthly_done(attempt, token, subscription)
    if first.get("status") == "requires_payment_method":
        return _decline_monthly(attempt, _payment_error_message(first), _failure_id(first))
    return _json_error("The payment is still being confirmed. Please wait a moment.", 409)


def _unpaid_first_month(subscription: dict) -> dict | None:
    """None when the monthly gift's first month is paid (the subscription is active, or
    its first invoice's payment succeeded); otherwise that payment, as Stripe holds it."""
    if subscription.get("status") in ("active", "trialing"):
        return None
    first = as_dict(gateway().subscription_first_payment(subscription))
    return None if first.get("status") == "succeeded" else first


def _monthly_done(attempt: GiftAttempt, token: str, subscription: dict):
    attempts.mark_succeeded(attempt, subscription)
    db.session.commit()
    return _done(token)


def _decline_monthly(attempt: GiftAttempt, message: str, failure_id: str):
    """The first month's payment failed: the subscription is cancelled, and the attempt
    with it (its Stripe objects' idempotency keys are spent); the donor starts again."""
    if attempt.stripe_subscription_id:
        gateway().cancel_subscription(attempt.stripe_subscription_id)
    attempt.status = AttemptStatus.FAILED.value
    attempts.record_failed_confirmation(attempt, message, failure_id)
    db.session.commit()
    return _json_error(message + " Nothing was charged; please start again from the page.",
                       402)


@bp.post("/give/<token>/subscribe")
@csrf.exempt
def subscribe(token: str):
    """Monthly, after Stripe.js saved the card (a succeeded SetupIntent): the card becomes
    the customer's default, then the subscription is made (once per attempt)."""
    _check_json_token()
    attempt = attempt_or_404(token, lock=True)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return _done(token)
    if attempt.frequency != Frequency.MONTHLY.value or not attempt.stripe_setup_intent_id:
        return _json_error("This monthly gift has not started yet.", 409)
    if attempt.status == AttemptStatus.FAILED.value:
        return _json_error(NO_LONGER, 409)
    stripe = gateway()
    try:
        setup = as_dict(stripe.retrieve_setup_intent(attempt.stripe_setup_intent_id))
        if setup.get("status") == "canceled":
            # Cancelled by a failed 3-D Secure (the local Stripe-compatible server does
            # this): a new card needs a new SetupIntent, so a new attempt.
            return _decline_monthly(attempt, AUTHENTICATION_FAILED, _failure_id(setup))
        if setup.get("status") != "succeeded":
            error = setup.get("last_setup_error") or {}
            if not error:
                return _json_error("Your card is not saved yet. Please enter it and try "
                                   "again.", 409)
            return _failure(attempt, "Your card could not be saved: "
                            + (error.get("message") or "it was declined."),
                            _failure_id(setup))
        method_id = object_id(setup.get("payment_method"))
        if not attempt.stripe_subscription_id:
            stripe.make_default_card(attempt.stripe_customer_id, method_id)
            subscription = as_dict(stripe.create_subscription(
                attempt.id, attempt.stripe_customer_id, attempt.charged_amount,
                attempt.currency, {"page": str(attempt.action_page_id)},
                key=attempts.stripe_key(attempt)))
            attempt.stripe_subscription_id = subscription["id"]
            db.session.commit()
            attempt = attempt_or_404(token, lock=True)
        else:
            subscription = as_dict(stripe.retrieve_subscription(attempt.stripe_subscription_id))
        first = _unpaid_first_month(subscription)
        if first is None:
            return _monthly_done(attempt, token, subscription)
        if first.get("status") == "requires_action":
            return private(jsonify(kind="payment", client_secret=first["client_secret"]))
        return _decline_monthly(attempt, _payment_error_message(first), _failure_id(first))
    except CardError as error:
        # Stripe refused the first month's charge outright instead of leaving the
        # subscription incomplete.
        db.session.rollback()
        attempt = attempt_or_404(token, lock=True)
        return _decline_monthly(attempt, DECLINED, getattr(error, "code", None) or "card")
    except StripeError as error:
        return _stripe_unreachable(error)
