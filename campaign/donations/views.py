"""The donor's way through a gift: the amount step (POST /a/<slug>/give, our own form,
no JavaScript needed), the card step (/give/<token>, where Stripe.js takes the card in
Stripe's own fields), and the thank-you. The card step's path carries a secret: the
access logs redact it (campaign.common.logging)."""

from __future__ import annotations

import hmac
import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from campaign.common.errors import describe_error
from campaign.donations import attempts, defence, money
from campaign.donations.challenge import ChallengeRefused, new_challenge, spend_solution
from campaign.donations.forms import GiftForm
from campaign.donations.gateway import (
    CardError,
    StripeError,
    as_dict,
    gateway,
    giving_configured,
    object_id,
    payments_simulated,
)
from campaign.donations.kind import amount_step_context
from campaign.donations.models import AttemptStatus, Frequency, GiftAttempt
from campaign.donations.page_settings import get_settings
from campaign.donations.security import card_step_policy
from campaign.extensions import csrf, db, limiter
from campaign.pages import services
from campaign.pages.forms import posted_tracking
from campaign.pages.models import PageKind
from campaign.pages.public import public_page, render_page
from campaign.public_forms import COOKIE_NAME, public_form, token_for, valid_nonce

log = logging.getLogger(__name__)
bp = Blueprint("donations", __name__)

DECLINED = "Your card was declined. Please try another card."
TOO_MANY_FAILURES = ("Too many card payments failed from your connection in the last hour. "
                     "Please try again later.")
UNREACHABLE = ("We could not reach our payment processor. Nothing was charged; please try "
               "again in a minute.")


def gift_rate_limit() -> str:
    return current_app.config["GIFT_RATE_LIMIT"]


def _count_rate_block(_limit) -> None:
    """on_breach of the per-address limits: counted under the page the request was for."""
    page_id = None
    args = request.view_args or {}
    if "slug" in args:
        page = services.load_page_view(args["slug"])
        page_id = page.id if page is not None else None
    elif "token" in args:
        attempt = attempts.attempt_for_token(args["token"])
        page_id = attempt.action_page_id if attempt else None
    if page_id is not None:
        defence.record_block(page_id, defence.RATE)
        db.session.commit()


def _donation_page(slug: str):
    page = public_page(slug)
    settings = get_settings(page.id) if page.kind == PageKind.DONATION.value else None
    if settings is None or not giving_configured():
        abort(404)
    return page, settings


def _amount_step_again(page, form: GiftForm, status: int):
    return render_page(page, form, status, form_context=amount_step_context(page))


@bp.post("/a/<slug>/give")
@limiter.limit(gift_rate_limit, methods=["POST"], on_breach=_count_rate_block)
@public_form
def give(slug: str):
    """The amount step: checks the form, the page's limits and the donor's velocity, and
    opens a gift attempt whose card step is at a secret address."""
    page, settings = _donation_page(slug)
    if page.is_closed:
        return render_template("pages/closed.html", page=page), 410
    form = GiftForm()
    valid = form.validate()
    if form.is_bot:
        # Counted, and answered like a success would start, so the bot learns nothing.
        defence.record_block(page.id, defence.HONEYPOT)
        db.session.commit()
        return redirect(url_for("pages.show", slug=slug), 303)
    if (form.currency.data or settings.currency) != settings.currency:
        form.currency.errors.append(
            "This page takes gifts in " + settings.currency.upper() + " only; please reload "
            "the page and try again.")
        return _amount_step_again(page, form, 400)
    amount = form.chosen_amount(settings)
    frequency = form.chosen_frequency(settings)
    tribute = form.chosen_tribute(settings)
    if amount is None and form.custom_amount.errors and _below_minimum(form, settings):
        defence.record_block(page.id, defence.AMOUNT)
        db.session.commit()
    if not valid or amount is None or frequency is None or tribute is None:
        return _amount_step_again(page, form, 400)
    if defence.email_over_limit(form.email.data):
        defence.record_block(page.id, defence.EMAIL_RATE)
        db.session.commit()
        form.email.errors.append("Several gifts were started with this address in the last "
                                 "hour. Please wait an hour and try again, or contact us.")
        return _amount_step_again(page, form, 429)
    fee = money.fee_for(amount, settings.fee_cover_basis_points) if form.cover_fee.data else 0
    tracking = posted_tracking()
    attempt, token = attempts.start_attempt(attempts.GiftChoice(
        page_id=page.id, email=form.email.data, first_name=form.first_name.data,
        last_name=form.last_name.data, amount=amount, fee_amount=fee,
        currency=settings.currency, frequency=frequency, tribute_kind=tribute[0],
        tribute_name=tribute[1], tribute_notify_email=tribute[2],
        source=tracking["source"], utm_source=tracking["utm_source"],
        utm_medium=tracking["utm_medium"], utm_campaign=tracking["utm_campaign"],
        visitor_key=defence.visitor_key()))
    db.session.commit()
    return redirect(url_for(".card_step", token=token), 303)


def _below_minimum(form: GiftForm, settings) -> bool:
    typed = form.custom_amount.data if form.amount.data in ("other", "", None) \
        else form.amount.data
    try:
        return money.to_minor(typed or "", settings.currency) < settings.minimum_amount
    except money.AmountError:
        return False


# -- the card step --------------------------------------------------------------------------

def _attempt_or_404(token: str, *, lock: bool = False) -> GiftAttempt:
    attempt = attempts.attempt_for_token(token, lock=lock)
    if attempt is None:
        abort(404)
    return attempt


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/give/challenge")
def challenge():
    """A fresh proof-of-work challenge for the card step's widget."""
    if not giving_configured():
        abort(404)
    return _private(jsonify(new_challenge()))


@bp.get("/give/<token>")
def card_step(token: str):
    attempt = _attempt_or_404(token)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return redirect(url_for(".thanks", token=token), 303)
    page = attempt_page(attempt)
    response = make_response(render_template(
        "donations/card_step.html", attempt=attempt, page=page, token=token,
        simulated=payments_simulated(), money=money,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"] or "",
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        csrf_token=_form_token()))
    # Only this page may load Stripe.js and talk to Stripe (PCI SAQ A): every other
    # page keeps the strict policy of campaign.security.
    response.headers["Content-Security-Policy"] = card_step_policy(current_app.config)
    return _private(response)


def attempt_page(attempt: GiftAttempt):
    from campaign.pages.models import ActionPage

    return db.session.get(ActionPage, attempt.action_page_id)


def _form_token() -> str:
    from campaign.public_forms import form_token

    return form_token()


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
    return _private(make_response(jsonify(error=message), status))


def _json_error(message: str, status: int):
    return _private(make_response(jsonify(error=message), status))


def _stripe_unreachable(error: Exception):
    db.session.rollback()
    log.warning("gift: Stripe call failed: %s", describe_error(error))
    return _json_error(UNREACHABLE, 502)


@bp.post("/give/<token>/start")
@limiter.limit(gift_rate_limit, methods=["POST"], on_breach=_count_rate_block)
@csrf.exempt
def start(token: str):
    """Checks the visitor's failed confirmations and the proof-of-work, then makes (once
    per attempt) the PaymentIntent, or the customer and SetupIntent of a monthly gift."""
    _check_json_token()
    attempt = _attempt_or_404(token, lock=True)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
    if attempt.status != AttemptStatus.OPEN.value and \
            attempt.status != AttemptStatus.PROCESSING.value:
        return _json_error("This gift can no longer be completed. Please start again from "
                           "the page.", 409)
    if _over_failure_cap(attempt):
        return _refuse(attempt, defence.FAILURES, TOO_MANY_FAILURES, 429)
    body = request.get_json(silent=True) or {}
    try:
        spend_solution(body.get("altcha") if isinstance(body, dict) else None)
    except ChallengeRefused as refused:
        db.session.rollback()
        return _refuse(_attempt_or_404(token), defence.CHALLENGE, str(refused), 400)
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
    return _private(jsonify(kind=kind, client_secret=secret))


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
            f"Gift: {page.title}"[:200] if page else "Gift", {"page": page_id})
        attempt.stripe_payment_intent_id = intent["id"]
    return intent["client_secret"]


def _setup_intent_secret(attempt: GiftAttempt) -> str:
    stripe = gateway()
    if not attempt.stripe_customer_id:
        customer = stripe.create_customer(attempt.id, attempt.email,
                                          f"{attempt.first_name} {attempt.last_name}")
        attempt.stripe_customer_id = customer["id"]
    if attempt.stripe_setup_intent_id:
        intent = stripe.retrieve_setup_intent(attempt.stripe_setup_intent_id)
    else:
        intent = stripe.create_setup_intent(attempt.id, attempt.stripe_customer_id)
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
        return ("Your bank's authentication (3-D Secure) did not succeed, so nothing was "
                "charged. Please try again or use another card.")
    if error.get("code") == "card_declined" or error.get("decline_code"):
        return DECLINED
    return DECLINED if error else "The payment did not go through. Please try again."


@bp.post("/give/<token>/finish")
@csrf.exempt
def finish(token: str):
    """After Stripe.js confirmed (or failed to confirm) the payment: Stripe's own record
    decides, never what the browser says."""
    _check_json_token()
    attempt = _attempt_or_404(token, lock=True)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
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
        return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
    if intent.get("status") == "requires_payment_method" and intent.get("last_payment_error"):
        return _failure(attempt, _payment_error_message(intent), _failure_id(intent))
    return _json_error("The payment is not confirmed yet. Please enter your card and try "
                       "again.", 409)


def _finish_monthly(attempt: GiftAttempt, token: str):
    stripe = gateway()
    if not attempt.stripe_subscription_id:
        return _json_error("This monthly gift has not started yet.", 409)
    subscription = as_dict(stripe.retrieve_subscription(attempt.stripe_subscription_id))
    if subscription.get("status") in ("active", "trialing"):
        attempts.mark_succeeded(attempt, subscription)
        db.session.commit()
        return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
    first = as_dict(stripe.subscription_first_payment(subscription))
    if first.get("status") == "succeeded":
        attempts.mark_succeeded(attempt, subscription)
        db.session.commit()
        return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
    if first.get("status") == "requires_payment_method":
        return _decline_monthly(attempt, _payment_error_message(first), _failure_id(first))
    return _json_error("The payment is still being confirmed. Please wait a moment.", 409)


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
    attempt = _attempt_or_404(token, lock=True)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
    if attempt.frequency != Frequency.MONTHLY.value or not attempt.stripe_setup_intent_id:
        return _json_error("This monthly gift has not started yet.", 409)
    if attempt.status == AttemptStatus.FAILED.value:
        return _json_error("This gift can no longer be completed. Please start again from "
                           "the page.", 409)
    stripe = gateway()
    try:
        setup = as_dict(stripe.retrieve_setup_intent(attempt.stripe_setup_intent_id))
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
                attempt.currency, {"page": str(attempt.action_page_id)}))
            attempt.stripe_subscription_id = subscription["id"]
            db.session.commit()
            attempt = _attempt_or_404(token, lock=True)
        else:
            subscription = as_dict(stripe.retrieve_subscription(attempt.stripe_subscription_id))
        if subscription.get("status") in ("active", "trialing"):
            attempts.mark_succeeded(attempt, subscription)
            db.session.commit()
            return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
        first = as_dict(stripe.subscription_first_payment(subscription))
        if first.get("status") == "requires_action":
            return _private(jsonify(kind="payment", client_secret=first["client_secret"]))
        if first.get("status") == "succeeded":
            attempts.mark_succeeded(attempt, subscription)
            db.session.commit()
            return _private(jsonify(done=True, redirect=url_for(".thanks", token=token)))
        return _decline_monthly(attempt, _payment_error_message(first), _failure_id(first))
    except CardError as error:
        # Stripe refused the first month's charge outright instead of leaving the
        # subscription incomplete.
        db.session.rollback()
        attempt = _attempt_or_404(token, lock=True)
        return _decline_monthly(attempt, DECLINED, getattr(error, "code", None) or "card")
    except StripeError as error:
        return _stripe_unreachable(error)


@bp.get("/give/<token>/thanks")
def thanks(token: str):
    attempt = _attempt_or_404(token)
    if attempt.status != AttemptStatus.SUCCEEDED.value:
        return redirect(url_for(".card_step", token=token), 303)
    return _private(make_response(render_template(
        "donations/thanks.html", attempt=attempt, page=attempt_page(attempt), money=money)))
