"""A monthly donor's own pages, opened by the signed links in their emails (no login):
/gifts/manage/<token> (cancel the gift or change its amount) and /gifts/card/<token>
(save a new card after a failed payment).

GET shows a page and changes nothing: mail scanners and link previews fetch every link
in an email. The form's POST, with the public forms' CSRF token (a scanner has neither
the cookie nor the page), acts. The path is the secret: the access logs redact it
(campaign.common.logging) and the pages send no Referer. A forged link is a 404 and an
expired one a 410, each a page that says so.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, make_response, render_template, request
from wtforms import StringField

from campaign.common.errors import describe_error
from campaign.common.input import CheckedForm
from campaign.donations import self_service
from campaign.donations.gateway import CardError, GivingNotConfigured, StripeError
from campaign.donations.gift_links import (
    CARD_SALT,
    MANAGE_SALT,
    GiftLink,
    LinkExpired,
    LinkInvalid,
    read_token,
)
from campaign.donations.models import MonthlyGift
from campaign.donations.money import format_money, plain
from campaign.donations.security import card_step_policy
from campaign.extensions import db, limiter
from campaign.pages.forms import strip
from campaign.pages.models import ActionPage
from campaign.public_forms import form_token, public_form, public_post_limit

log = logging.getLogger(__name__)

bp = Blueprint("gift_manage", __name__)

# An itsdangerous token for a gift id is about 40 characters; much longer is not ours.
MAX_TOKEN_LENGTH = 200


class ChangeAmountForm(CheckedForm):
    class Meta:
        csrf = False  # the public forms' token, checked by @public_form

    amount = StringField("New monthly amount", filters=[strip])


@bp.after_request
def no_store(response: Response) -> Response:
    # Each page answers for one donor's gift: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


class _NoGift(Exception):
    def __init__(self, response: Response):
        self.response = response


@bp.errorhandler(_NoGift)
def _no_gift(error: _NoGift) -> Response:
    return error.response


def _link_page(status: int, title: str, message: str) -> Response:
    return make_response(render_template("donations/manage_invalid.html", title=title,
                                         message=message), status)


def _gift_for(token: str, salt: str) -> tuple[MonthlyGift, GiftLink]:
    """The gift a link names, locked for the POSTs that change it; an error page if none."""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise LinkInvalid
        link = read_token(token, salt)
    except LinkExpired:
        raise _NoGift(_link_page(
            410, "This link has expired",
            "For your safety, the links in our emails work for "
            f"{current_app.config['GIFT_MANAGE_LINK_DAYS']} days. The receipt of your next "
            "monthly gift will bring a fresh one, or write to us and we will help.")) from None
    except LinkInvalid:
        raise _NoGift(_link_page(
            404, "This link does not work",
            "It may have been cut short or mistyped: please open it again from the email, "
            "in one piece.")) from None
    gift = db.session.get(MonthlyGift, link.monthly_gift_id,
                          with_for_update=request.method == "POST")
    if gift is None:
        raise _NoGift(_link_page(404, "This gift is not here any more",
                                 "We have no monthly gift for this link.")) from None
    return gift, link


def _stripe_unavailable(error: Exception) -> Response:
    db.session.rollback()
    log.warning("a donor's change could not reach Stripe: %s", describe_error(error))
    return _link_page(503, "Please try again in a few minutes",
                      "We could not reach our payment processor, so nothing was changed.")


def _manage_page(gift: MonthlyGift, token: str, form: ChangeAmountForm | None = None,
                 status: int = 200, done: str | None = None) -> Response:
    limits = self_service.amount_limits(gift)
    form = form or ChangeAmountForm(formdata=None,
                                    data={"amount": plain(self_service.gift_part(gift),
                                                          gift.currency)})
    return make_response(render_template(
        "donations/manage.html", gift=gift, token=token, form=form, done=done,
        page=db.session.get(ActionPage, gift.action_page_id) if gift.action_page_id else None,
        active=self_service.is_active(gift), csrf_token=form_token(),
        amount=format_money(gift.amount, gift.currency),
        fee=format_money(gift.fee_covered, gift.currency) if gift.fee_covered else None,
        minimum=format_money(limits.minimum, gift.currency) if limits else None,
        maximum=format_money(limits.maximum, gift.currency) if limits else None), status)


@bp.get("/gifts/manage/<token>")
def manage(token: str):
    gift, _ = _gift_for(token, MANAGE_SALT)
    return _manage_page(gift, token)


@bp.post("/gifts/manage/<token>")
@limiter.limit(public_post_limit, methods=["POST"])
@public_form
def manage_post(token: str):
    gift, _ = _gift_for(token, MANAGE_SALT)
    action = request.form.get("action", "")
    form = ChangeAmountForm()
    try:
        if action == "cancel":
            self_service.cancel_gift(gift)
            done = "Your monthly gift is cancelled. Nothing more will be charged. Thank you " \
                   "for everything you gave."
        elif action == "change":
            if not form.validate():
                return _manage_page(gift, token, form, 400)
            charged = self_service.change_amount(gift, form.amount.data or "")
            done = f"Done: from your next monthly payment on, you give " \
                   f"{format_money(charged, gift.currency)} a month."
        else:
            return _link_page(400, "Something in the form was wrong",
                              "Please choose to cancel the gift or to change its amount.")
    except self_service.GiftChangeError as exc:
        db.session.rollback()
        form.amount.errors = [str(exc)]
        gift = db.session.get(MonthlyGift, gift.id)
        return _manage_page(gift, token, form, 400)
    except (StripeError, GivingNotConfigured) as exc:
        return _stripe_unavailable(exc)
    db.session.commit()
    return _manage_page(gift, token, done=done)


def _card_page(template: str, status: int = 200, **context) -> Response:
    response = make_response(render_template(template, **context), status)
    # Stripe.js on this page only, as on the card step: PCI SAQ A has the card typed into
    # Stripe's own fields.
    response.headers["Content-Security-Policy"] = card_step_policy(current_app.config)
    return response


@bp.get("/gifts/card/<token>")
def card(token: str):
    gift, link = _gift_for(token, CARD_SALT)
    if not self_service.is_active(gift):
        return _link_page(410, "This monthly gift has ended",
                          "There is no card to update: nothing more will be charged.")
    try:
        setup = self_service.card_setup(gift, link.issued_at)
    except self_service.GiftChangeError as exc:
        return _link_page(429, "Too many tries", str(exc))
    except (StripeError, GivingNotConfigured) as exc:
        return _stripe_unavailable(exc)
    if setup.get("status") == "succeeded":
        return render_template("donations/card_update_done.html", gift=gift, paid=None,
                               error=None)
    return _card_page("donations/card_update.html", gift=gift, token=token,
                      csrf_token=form_token(), client_secret=setup["client_secret"],
                      amount=format_money(gift.amount, gift.currency))


@bp.post("/gifts/card/<token>")
@limiter.limit(public_post_limit, methods=["POST"])
@public_form
def card_post(token: str):
    gift, _ = _gift_for(token, CARD_SALT)
    setup_intent_id = request.form.get("setup_intent", "")
    if not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 255:
        return _link_page(400, "The card was not saved",
                          "Your browser did not finish saving the card. Please open the "
                          "link again and enter the card once more.")
    error = None
    try:
        invoices = self_service.save_new_card(gift, setup_intent_id)
    except self_service.GiftChangeError as exc:
        return _link_page(400, "The card was not saved", str(exc))
    except CardError as exc:  # saved, but the bank declined the payment due
        invoices, error = {}, exc.user_message or "The bank declined the payment."
    except (StripeError, GivingNotConfigured) as exc:
        return _stripe_unavailable(exc)
    paid = [invoice for invoice, status in invoices.items() if status == "paid"]
    if error is None and len(paid) < len(invoices):
        error = "The bank declined the payment."
    db.session.commit()
    return render_template("donations/card_update_done.html", gift=gift, paid=paid,
                           error=error)
