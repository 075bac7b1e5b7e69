"""The donor's way through a gift: the amount step (POST /a/<slug>/give, our own form,
no JavaScript needed), the card step (/give/<token>, where Stripe.js takes the card in
Stripe's own fields; its calls are campaign.donations.calls), and the thank-you. The
card step's path carries a secret: the access logs redact it (campaign.common.logging)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    url_for,
)

from campaign.donations import attempts, defence, money
from campaign.donations.challenge import new_challenge
from campaign.donations.forms import GiftForm
from campaign.donations.gateway import giving_configured, payments_simulated
from campaign.donations.kind import amount_step_context
from campaign.donations.models import AttemptStatus, GiftAttempt
from campaign.donations.page_settings import get_settings
from campaign.donations.security import card_step_policy
from campaign.extensions import db, limiter
from campaign.pages.forms import posted_tracking
from campaign.pages.models import ActionPage, PageKind
from campaign.pages.public import public_page, render_page
from campaign.public_forms import form_token, public_form

bp = Blueprint("donations", __name__)



def _donation_page(slug: str):
    page = public_page(slug)
    settings = get_settings(page.id) if page.kind == PageKind.DONATION.value else None
    if settings is None or not giving_configured():
        abort(404)
    return page, settings


def _amount_step_again(page, form: GiftForm, status: int):
    return render_page(page, form, status, form_context=amount_step_context(page))


@bp.post("/a/<slug>/give")
@limiter.limit(defence.gift_rate_limit, methods=["POST"], on_breach=defence.count_rate_block)
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
    try:
        return money.to_minor(form.typed_amount(), settings.currency) < settings.minimum_amount
    except money.AmountError:
        return False


# -- the card step --------------------------------------------------------------------------

def attempt_or_404(token: str, *, lock: bool = False) -> GiftAttempt:
    attempt = attempts.attempt_for_token(token, lock=lock)
    if attempt is None:
        abort(404)
    return attempt


def private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/give/challenge")
def challenge():
    """A fresh proof-of-work challenge for the card step's widget."""
    if not giving_configured():
        abort(404)
    return private(jsonify(new_challenge()))


@bp.get("/give/<token>")
def card_step(token: str):
    attempt = attempt_or_404(token)
    if attempt.status == AttemptStatus.SUCCEEDED.value:
        return redirect(url_for(".thanks", token=token), 303)
    page = attempt_page(attempt)
    response = make_response(render_template(
        "donations/card_step.html", attempt=attempt, page=page, token=token,
        simulated=payments_simulated(), money=money,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"] or "",
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        csrf_token=form_token()))
    # Only this page may load Stripe.js and talk to Stripe (PCI SAQ A): every other
    # page keeps the strict policy of campaign.security.
    response.headers["Content-Security-Policy"] = card_step_policy(current_app.config)
    return private(response)


def attempt_page(attempt: GiftAttempt) -> ActionPage | None:
    return db.session.get(ActionPage, attempt.action_page_id)


@bp.get("/give/<token>/thanks")
def thanks(token: str):
    attempt = attempt_or_404(token)
    if attempt.status != AttemptStatus.SUCCEEDED.value:
        return redirect(url_for(".card_step", token=token), 303)
    return private(make_response(render_template(
        "donations/thanks.html", attempt=attempt, page=attempt_page(attempt), money=money)))
