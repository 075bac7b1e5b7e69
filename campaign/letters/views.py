"""Letter pages: preview each letter, send them, and follow their delivery."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, url_for

from campaign import outbox
from campaign.extensions import db, limiter
from campaign.letters import services
from campaign.letters.compose import LetterError, Writer, clean_body, compose
from campaign.letters.forms import LetterForm
from campaign.letters.services import TargetChoice, district_key
from campaign.letters.status_links import action_for_token, create_status_link
from campaign.pages.forms import posted_hidden_values
from campaign.pages.models import PageKind
from campaign.pages.public import (
    already_signed,
    public_page,
    render_page,
    signature_from_form,
)
from campaign.public_forms import public_form, public_post_limit
from campaign.supporters.services import record_signature
from campaign.supporters.thanks import page_url, share_links
from campaign.targets.services import ZipLookupError

bp = Blueprint("letters", __name__)


def _letter_page(slug: str):
    page = public_page(slug)
    settings = services.get_settings(page.id) if page.kind == PageKind.LETTER.value else None
    if settings is None:
        abort(404)
    return page, settings


def _today():
    return datetime.now(timezone.utc).date()


def _check(form: LetterForm, settings) -> tuple[str, TargetChoice] | None:
    """Validates the form and resolves the targets; puts any problem on the form."""
    if not form.validate():
        return None
    if settings.uses_representatives and not form.postal_code.data:
        form.postal_code.errors.append("Please give your ZIP code so we can find your "
                                       "representatives.")
        return None
    try:
        body = clean_body(form.body.data if settings.is_editable else settings.body_template,
                          settings.max_length)
    except LetterError as exc:
        form.body.errors.append(str(exc))
        return None
    try:
        choice = services.resolve_targets(settings, form.postal_code.data or "",
                                          form.district.data or None, on=_today())
    except ZipLookupError as exc:
        form.postal_code.errors.append(str(exc))
        return None
    except LetterError as exc:
        form.district.errors.append(str(exc))
        return None
    return body, choice


def _writer(form: LetterForm) -> Writer:
    return Writer(first_name=form.first_name.data, last_name=form.last_name.data,
                  town=form.town.data or "", postal_code=(form.postal_code.data or "").upper())


def _checked_submission(slug: str):
    """The page, its letter settings, the validated form, the letter and its targets; or an
    error page (closed: 410, bad input: 400) raised as the response."""
    page, settings = _letter_page(slug)
    if page.is_closed:
        abort(make_response(render_template("pages/closed.html", page=page), 410))
    form = LetterForm()
    checked = _check(form, settings)
    if checked is None:
        abort(make_response(*render_page(page, form, 400, form_context={"letter": settings})))
    return (page, settings, form, *checked)


@bp.post("/a/<slug>/letter/preview")
@limiter.limit(public_post_limit, methods=["POST"])
@public_form
def preview(slug: str):
    page, settings, form, body, choice = _checked_submission(slug)
    letters = [] if choice.needs_district_choice else [
        (target, compose(body, _writer(form), target)) for target in choice.targets]
    return render_template("letters/preview.html", page=page, settings=settings, form=form,
                           hidden=posted_hidden_values(), body=body, choice=choice,
                           letters=letters, district_key=district_key)


@bp.post("/a/<slug>/letter/send")
@limiter.limit(public_post_limit, methods=["POST"])
@public_form
def send(slug: str):
    page, settings, form, body, choice = _checked_submission(slug)
    if form.is_bot:
        return redirect(url_for(".sent", slug=slug), 303)
    if choice.needs_district_choice:
        form.district.errors.append("Please choose your district before sending.")
        return render_page(page, form, 400, form_context={"letter": settings})

    result = record_signature(page.id, signature_from_form(form, town=form.town.data or ""),
                              current_app.config["CONSENT_EMAIL_UPDATES_VERSION"])
    if result.is_duplicate:
        # No second letters. The answer is a fresh send's, and only the address's owner
        # hears of it, by email: the page after sending is the same for everyone, and
        # the status link travels only in the receipt.
        db.session.rollback()
        already_signed(page.id, result.supporter_id)
    else:
        services.record_letters(action_id=result.action_id, page_id=page.id,
                                settings=settings, body=body, writer=_writer(form),
                                targets=choice.targets)
        create_status_link(
            result.action_id, secret_key=current_app.config["SECRET_KEY"],
            valid_for=timedelta(days=current_app.config["LETTER_STATUS_LINK_DAYS"]))
        db.session.commit()
        outbox.request_soon("letters.deliver")
    outbox.request_soon("supporters.send_thank_yous")
    return redirect(url_for(".sent", slug=slug), 303)


@bp.get("/a/<slug>/letter/sent")
def sent(slug: str):
    """After every send, duplicate or not: where the letters' status link will come."""
    page, _ = _letter_page(slug)
    return render_template("letters/sent.html", page=page,
                           share_links=share_links(page_url(page.slug), page.title))


@bp.get("/letters/<token>")
def status(token: str):
    """A supporter's letters, by the private link in their receipt. The path is the secret:
    the access logs redact it (campaign.common.logging), and the page's meta tag keeps
    it out of the Referer of anything loaded or followed from it."""
    action_id = action_for_token(token)
    letters = services.letters_for_action(action_id) if action_id is not None else []
    if not letters:
        abort(404)
    page = letters[0].action.page
    response = make_response(render_template(
        "letters/status.html", letters=letters, page=page,
        share_links=share_links(page_url(page.slug), page.title)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/a/<slug>/letter/edit")
@public_form
def edit(slug: str):
    """Back from the preview to the form, with what the supporter wrote."""
    page, settings = _letter_page(slug)
    return render_page(page, LetterForm(), form_context={"letter": settings})
