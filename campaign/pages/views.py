"""Public action pages: read a page, sign it, say thank you."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for

from campaign import outbox
from campaign.extensions import limiter
from campaign.pages import services
from campaign.pages.forms import SignForm
from campaign.pages.kinds import kind_of
from campaign.pages.public import (
    already_signed,
    count_this_view,
    page_caches,
    public_page,
    render_page,
    signature_count,
    signature_from_form,
)
from campaign.pages.rendering import blank_page_pieces, fill_page, request_slot_values
from campaign.public_forms import public_form, public_post_limit
from campaign.supporters.services import commit_signature
from campaign.supporters.thanks import page_url, share_links

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("pages/index.html", pages=services.list_public_pages())


@bp.get("/a/<slug>")
def show(slug: str):
    """A page view. A repeat of it within the cache period is usually answered by
    campaign.pages.fast_path, from the same caches, without entering Flask."""
    page = public_page(slug)
    count_this_view(page)
    pieces = page_caches().rendered.get_or_load(page.id, lambda: blank_page_pieces(page))
    return fill_page(pieces, request_slot_values())


@bp.post("/a/<slug>")
@limiter.limit(public_post_limit, methods=["POST"])
@public_form
def sign(slug: str):
    page = public_page(slug)
    if page.is_closed:
        return render_template("pages/closed.html", page=page), 410
    refusal = kind_of(page.kind).plain_sign_refusal
    if refusal is not None:
        abort(400, description=refusal)
    form = SignForm()
    if not form.validate():
        return render_page(page, form, 400)
    if form.is_bot:
        # Look like success so the bot learns nothing; record nothing.
        return redirect(url_for(".thanks", slug=slug), 303)

    result = commit_signature(page.id, signature_from_form(form),
                              current_app.config["CONSENT_EMAIL_UPDATES_VERSION"])
    if result.is_duplicate:
        already_signed(page.id, result.supporter_id)
    outbox.request_soon("supporters.send_thank_yous")
    return redirect(url_for(".thanks", slug=slug), 303)


@bp.get("/a/<slug>/thanks")
def thanks(slug: str):
    page = public_page(slug)
    return render_template("pages/thanks.html", page=page, signatures=signature_count(page),
                           share_links=share_links(page_url(page.slug), page.title))
