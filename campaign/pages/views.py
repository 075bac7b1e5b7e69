"""Public action pages: read a page, sign it, say thank you."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from campaign.extensions import db, enqueue_or_leave_for_sweep, limiter
from campaign.letters import services as letter_services
from campaign.letters.forms import LetterForm
from campaign.pages import services
from campaign.pages.forms import SignForm, clean_source, clip, referrer_origin
from campaign.pages.models import PageKind
from campaign.pages.services import PageView
from campaign.supporters.services import UTM_KEYS, Signature, record_signature
from campaign.supporters.thanks import page_url, share_links
from workers.supporters import send_thank_you

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)


def _caches():
    return current_app.extensions["page_caches"]


def public_page(slug: str) -> PageView:
    """The live or closed page at `slug`, from the per-process cache; 404 otherwise."""
    caches = _caches()
    page = caches.pages.get_or_load(slug, lambda: services.load_page_view(slug))
    if page is None or not (page.is_live or page.is_closed):
        abort(404)
    return page


def _signature_count(page: PageView) -> int:
    return _caches().counts.get_or_load(page.id, lambda: services.count_signatures(page.id))


def render_page(page: PageView, form: SignForm, status: int = 200):
    letter = None
    if page.kind == PageKind.LETTER.value:
        letter = letter_services.get_settings(page.id)
    return render_template("pages/show.html", page=page, form=form, letter=letter,
                           signatures=_signature_count(page)), status


def _count_view(page: PageView) -> None:
    day = datetime.now(timezone.utc).date()
    try:
        current_app.extensions["view_counter"].add(page.id, day,
                                                   clean_source(request.args.get("source")))
    except Exception:  # a lost view count must never cost a supporter the page
        log.exception("could not store page view counts")


@bp.get("/")
def index():
    return render_template("pages/index.html", pages=services.list_public_pages())


@bp.get("/a/<slug>")
def show(slug: str):
    page = public_page(slug)
    _count_view(page)
    form = (LetterForm if page.kind == PageKind.LETTER.value else SignForm)(formdata=None)
    # Where the supporter came from travels with the form, so the signature keeps it.
    form.source.data = clean_source(request.args.get("source"))
    for key in UTM_KEYS:
        getattr(form, f"utm_{key}").data = clip(request.args.get(f"utm_{key}"), 255)
    form.referrer.data = referrer_origin(request.referrer)
    if isinstance(form, LetterForm):
        settings = letter_services.get_settings(page.id)
        form.body.data = settings.body_template if settings else ""
    return render_page(page, form)


def sign_limit() -> str:
    return current_app.config["SIGN_RATE_LIMIT"]


@bp.post("/a/<slug>")
@limiter.limit(sign_limit, methods=["POST"])
def sign(slug: str):
    page = public_page(slug)
    if page.is_closed:
        return render_template("pages/closed.html", page=page), 410
    if page.kind == PageKind.LETTER.value:
        abort(400, description="This page sends letters: please use the letter form on it.")
    form = SignForm()
    if not form.validate():
        return render_page(page, form, 400)
    if form.is_bot:
        # Look like success so the bot learns nothing; record nothing.
        return redirect(url_for(".thanks", slug=slug), 303)

    result = record_signature(page.id, signature_from_form(form),
                              current_app.config["CONSENT_EMAIL_UPDATES_VERSION"])
    if result.is_duplicate:
        db.session.rollback()
        return render_template("pages/already_signed.html", page=page,
                               share_links=share_links(page_url(page.slug), page.title)), 409
    action_id = result.action.id
    db.session.commit()
    enqueue_thank_you(action_id)
    return redirect(url_for(".thanks", slug=slug), 303)


def signature_from_form(form: SignForm) -> Signature:
    return Signature(
        email=form.email.data, first_name=form.first_name.data,
        last_name=form.last_name.data, postal_code=(form.postal_code.data or "").upper(),
        country=(form.country.data or "").upper(),
        town=(form.town.data or "") if isinstance(form, LetterForm) else "",
        opted_in=form.opt_in.data,
        source=clean_source(form.source.data),
        utm={key: clip(getattr(form, f"utm_{key}").data, 255) for key in UTM_KEYS},
        referrer=referrer_origin(form.referrer.data))


def enqueue_thank_you(action_id: int) -> None:
    enqueue_or_leave_for_sweep(send_thank_you, action_id)


@bp.get("/a/<slug>/thanks")
def thanks(slug: str):
    page = public_page(slug)
    return render_template("pages/thanks.html", page=page, signatures=_signature_count(page),
                           share_links=share_links(page_url(page.slug), page.title))
