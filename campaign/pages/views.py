"""Public action pages: read a page, sign it, say thank you."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from markupsafe import escape

from campaign import outbox
from campaign.extensions import db, limiter
from campaign.letters import services as letter_services
from campaign.letters.forms import LetterForm
from campaign.letters.models import LetterSettings
from campaign.pages import services
from campaign.pages.forms import (
    HIDDEN_FIELDS,
    TRACKING_FIELDS,
    SignForm,
    clean_source,
    posted_hidden_values,
    posted_tracking,
    tracking_values,
)
from campaign.pages.models import PageKind
from campaign.pages.services import PageView
from campaign.public_forms import form_token, public_form
from campaign.supporters.services import (
    UTM_KEYS,
    Signature,
    commit_signature,
    request_already_signed_notice,
)
from campaign.supporters.thanks import page_url, share_links

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


def render_page(page: PageView, form: SignForm, status: int = 200,
                letter: LetterSettings | None = None, hidden: dict[str, str] | None = None,
                preview: bool = False):
    """The page with its form; a letter page's settings are looked up unless given, and
    the form's hidden fields are as posted unless given. `preview` marks it as staff's
    look at it, for a page supporters may not see yet."""
    if letter is None and page.kind == PageKind.LETTER.value:
        letter = letter_services.get_settings(page.id)
    if hidden is None:
        hidden = posted_hidden_values()
    return render_template("pages/show.html", page=page, form=form, letter=letter,
                           hidden=hidden, signatures=_signature_count(page),
                           preview=preview), status


def blank_form(page: PageView) -> tuple[SignForm, LetterSettings | None]:
    """The page's form as a first visit shows it, with a letter page's settings."""
    form = (LetterForm if page.kind == PageKind.LETTER.value else SignForm)(formdata=None)
    settings = None
    if isinstance(form, LetterForm):
        settings = letter_services.get_settings(page.id)
        form.body.data = settings.body_template if settings else ""
    return form, settings


def count_view(counter, page_id: int, source: str) -> None:
    try:
        counter.add(page_id, datetime.now(timezone.utc).date(), source)
    except Exception:  # a lost view count must never cost a supporter the page
        log.exception("could not store page view counts")


def _count_view(page: PageView) -> None:
    count_view(current_app.extensions["view_counter"], page.id,
               clean_source(request.args.get("source")))


@bp.get("/")
def index():
    return render_template("pages/index.html", pages=services.list_public_pages())


# A blank form is the same for every visitor but for the CSRF token and where they came
# from, so a page is rendered once per cache period with unique slots for those values,
# which each request fills in. Rendering the form's fields is most of a page view's cost.
_SLOT_NONCE = secrets.token_hex(8)
_SLOT_PATTERN = re.compile(f"slot-{_SLOT_NONCE}-([a-z_]+)")
NO_TRACKING: dict[str, str] = dict.fromkeys(TRACKING_FIELDS, "")


def _slot(name: str) -> str:
    return f"slot-{_SLOT_NONCE}-{name}"


def _blank_page_pieces(page: PageView) -> list[str]:
    """The page as [text, slot name, text, slot name, ..., text]."""
    form, settings = blank_form(page)
    html, _ = render_page(page, form, letter=settings,
                          hidden={name: _slot(name) for name in HIDDEN_FIELDS})
    return _SLOT_PATTERN.split(html)


def _escaped_tracking_values() -> dict[str, str]:
    """Where the supporter came from, HTML-escaped: it travels with the form, so the
    signature keeps it."""
    if not request.query_string and not request.referrer:  # most visits: nothing to keep
        return dict(NO_TRACKING)
    values = tracking_values(request.args, request.referrer)
    return {name: str(escape(value)) for name, value in values.items()}


def fill_page(pieces: list[str], values: dict[str, str]) -> str:
    # Odd positions are slot names (re.split keeps the captured group).
    return "".join(values[piece] if i % 2 else piece for i, piece in enumerate(pieces))


@bp.get("/a/<slug>")
def show(slug: str):
    """A page view. A repeat of it within the cache period is usually answered by
    campaign.pages.fast_path, from the same caches, without entering Flask."""
    page = public_page(slug)
    _count_view(page)
    pieces = _caches().rendered.get_or_load(page.id, lambda: _blank_page_pieces(page))
    values = _escaped_tracking_values()
    values["csrf_token"] = form_token()
    return fill_page(pieces, values)


def sign_limit() -> str:
    return current_app.config["SIGN_RATE_LIMIT"]


@bp.post("/a/<slug>")
@limiter.limit(sign_limit, methods=["POST"])
@public_form
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

    result = commit_signature(page.id, signature_from_form(form),
                              current_app.config["CONSENT_EMAIL_UPDATES_VERSION"])
    if result.is_duplicate:
        already_signed(page.id, result.supporter_id)
    outbox.request_soon("supporters.send_thank_yous")
    return redirect(url_for(".thanks", slug=slug), 303)


def already_signed(page_id: int, supporter_id: int) -> None:
    """A second signature with an address: the answer is the one a first signature gets,
    so that a list of addresses tried here tells nobody who took part. Only the address's
    owner learns it, by email, at most once a day per page. Commits."""
    request_already_signed_notice(page_id, supporter_id)
    db.session.commit()


def signature_from_form(form: SignForm) -> Signature:
    tracking = posted_tracking()
    return Signature(
        email=form.email.data, first_name=form.first_name.data,
        last_name=form.last_name.data, postal_code=(form.postal_code.data or "").upper(),
        country=(form.country.data or "").upper(),
        town=(form.town.data or "") if isinstance(form, LetterForm) else "",
        opted_in=form.opt_in.data,
        source=tracking["source"],
        utm={key: tracking[f"utm_{key}"] for key in UTM_KEYS},
        referrer=tracking["referrer"],
        attribution_per_person=current_app.config["ATTRIBUTION_PER_PERSON"])


@bp.get("/a/<slug>/thanks")
def thanks(slug: str):
    page = public_page(slug)
    return render_template("pages/thanks.html", page=page, signatures=_signature_count(page),
                           share_links=share_links(page_url(page.slug), page.title))
