"""What every kind's public views share: the page from the cache, the page rendered with
its kind's form, the sign limit, a signature from a posted form, the answer to a second
signature. The petition's views (campaign.pages.views) and other kinds' views
(campaign.letters.views) both use these."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from flask import abort, current_app, render_template, request

from campaign.extensions import db
from campaign.pages import services
from campaign.pages.forms import SignForm, clean_source, posted_hidden_values, posted_tracking
from campaign.pages.kinds import PETITION, kind_of
from campaign.pages.services import PageView
from campaign.supporters.services import UTM_KEYS, Signature, request_already_signed_notice

log = logging.getLogger(__name__)


def page_caches():
    return current_app.extensions["page_caches"]


def public_page(slug: str) -> PageView:
    """The live or closed page at `slug`, from the per-process cache; 404 otherwise."""
    page = page_caches().pages.get_or_load(slug, lambda: services.load_page_view(slug))
    if page is None or not (page.is_live or page.is_closed):
        abort(404)
    return page


def signature_count(page: PageView) -> int:
    return page_caches().counts.get_or_load(page.id,
                                            lambda: services.count_signatures(page.id))


def render_page(page: PageView, form: SignForm, status: int = 200,
                form_context: dict[str, Any] | None = None,
                hidden: dict[str, str] | None = None, preview: bool = False):
    """The page with its kind's form. The form's context (a letter page's settings) is the
    kind's own unless given, and the form's hidden fields are as posted unless given.
    `preview` marks it as staff's look at it, for a page supporters may not see yet."""
    kind = kind_of(page.kind)
    if form_context is None:
        form_context = kind.form_context(page)
    if hidden is None:
        hidden = posted_hidden_values()
    # A page its kind can't take part on yet (a letter page without its letter: it can't
    # go live) shows the plain form.
    form_template = kind.form_template if form_context is not None else PETITION.form_template
    progress_template = kind.progress_template if form_context is not None else None
    return render_template("pages/show.html", page=page, form=form,
                           form_template=form_template, progress_template=progress_template,
                           **(form_context or {}), hidden=hidden,
                           signatures=signature_count(page), preview=preview), status


def blank_form(page: PageView) -> tuple[SignForm, dict[str, Any] | None]:
    """The page's form as a first visit shows it, with its kind's context for it."""
    kind = kind_of(page.kind)
    form = kind.form_class(formdata=None)
    context = kind.form_context(page)
    if context is not None and kind.fill_blank_form is not None:
        kind.fill_blank_form(form, context)
    return form, context


def count_view(counter, page_id: int, source: str) -> None:
    try:
        counter.add(page_id, datetime.now(timezone.utc).date(), source)
    except Exception:  # a lost view count must never cost a supporter the page
        log.exception("could not store page view counts")


def count_this_view(page: PageView) -> None:
    count_view(current_app.extensions["view_counter"], page.id,
               clean_source(request.args.get("source")))


def already_signed(page_id: int, supporter_id: int) -> None:
    """A second signature with an address: the answer is the one a first signature gets,
    so that a list of addresses tried here tells nobody who took part. Only the address's
    owner learns it, by email, at most once a day per page. Commits."""
    request_already_signed_notice(page_id, supporter_id)
    db.session.commit()


def signature_from_form(form: SignForm, *, town: str = "") -> Signature:
    """The signature a posted form asks for; `town` from kinds whose form asks for it."""
    tracking = posted_tracking()
    return Signature(
        email=form.email.data, first_name=form.first_name.data,
        last_name=form.last_name.data, postal_code=(form.postal_code.data or "").upper(),
        country=(form.country.data or "").upper(), town=town,
        opted_in=form.opt_in.data,
        source=tracking["source"],
        utm={key: tracking[f"utm_{key}"] for key in UTM_KEYS},
        referrer=tracking["referrer"],
        attribution_per_person=current_app.config["ATTRIBUTION_PER_PERSON"])
