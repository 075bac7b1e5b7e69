"""Public action pages: read a page, sign it, say thank you."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import (Blueprint, abort, current_app, redirect, render_template, request,
                   url_for)
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from campaign.extensions import db, enqueue, limiter
from campaign.pages import services
from campaign.pages.forms import SignForm, clean_source, clip
from campaign.pages.services import PageView
from campaign.supporters.services import UTM_KEYS, Signature, record_signature
from campaign.supporters.thanks import page_url, share_links
from workers.supporters import send_thank_you

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)


def _caches():
    return current_app.extensions["page_caches"]


def _public_page(slug: str) -> PageView:
    caches = _caches()
    page = caches.pages.get_or_load(slug, lambda: services.load_page_view(slug))
    if page is None or not (page.is_live or page.is_closed):
        abort(404)
    return page


def _signature_count(page: PageView) -> int:
    return _caches().counts.get_or_load(page.id, lambda: services.count_signatures(page.id))


def _render_page(page: PageView, form: SignForm, status: int = 200):
    return render_template("pages/show.html", page=page, form=form,
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
    page = _public_page(slug)
    _count_view(page)
    form = SignForm(formdata=None)
    # Where the supporter came from travels with the form, so the signature keeps it.
    form.source.data = clean_source(request.args.get("source"))
    for key in UTM_KEYS:
        getattr(form, f"utm_{key}").data = clip(request.args.get(f"utm_{key}"), 255)
    form.referrer.data = clip(request.referrer, 1000)
    return _render_page(page, form)


def _sign_limit() -> str:
    return current_app.config["SIGN_RATE_LIMIT"]


@bp.post("/a/<slug>")
@limiter.limit(_sign_limit, methods=["POST"])
def sign(slug: str):
    page = _public_page(slug)
    if page.is_closed:
        return render_template("pages/closed.html", page=page), 410
    form = SignForm()
    if not form.validate():
        return _render_page(page, form, 400)
    if form.is_bot:
        # Look like success so the bot learns nothing; record nothing.
        return redirect(url_for(".thanks", slug=slug), 303)

    signature = Signature(
        email=form.email.data, first_name=form.first_name.data.strip(),
        last_name=form.last_name.data.strip(),
        postal_code=(form.postal_code.data or "").strip().upper(),
        country=(form.country.data or "").upper(), opted_in=form.opt_in.data,
        source=clean_source(form.source.data),
        utm={key: clip(getattr(form, f"utm_{key}").data, 255) for key in UTM_KEYS},
        referrer=clip(form.referrer.data, 1000))
    result = record_signature(page.id, signature,
                              current_app.config["CONSENT_EMAIL_UPDATES_VERSION"])
    if result.is_duplicate:
        db.session.rollback()
        return render_template("pages/already_signed.html", page=page,
                               share_links=share_links(page_url(page.slug), page.title)), 409
    action_id = result.action.id
    db.session.commit()
    enqueue_thank_you(action_id)
    return redirect(url_for(".thanks", slug=slug), 303)


def enqueue_thank_you(action_id: int) -> None:
    # The signature is committed; if the broker is down the sweep finds the row later.
    try:
        enqueue(send_thank_you, action_id)
    except (KombuError, RedisError, OSError):
        log.warning("broker unavailable; thank-you %s left for the sweep", action_id)


@bp.get("/a/<slug>/thanks")
def thanks(slug: str):
    page = _public_page(slug)
    return render_template("pages/thanks.html", page=page, signatures=_signature_count(page),
                           share_links=share_links(page_url(page.slug), page.title))
