"""Staff pages: every page at a glance, building and editing pages, letter settings and
reports, target lists and the fallback batches staff print or hand over."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from campaign.auth.access import admin_required
from campaign.auth.audit import recent_staff_events, record_staff_event
from campaign.extensions import csrf, db
from campaign.letters.batches import batch_csv, batch_printable_html
from campaign.letters.compose import LetterError
from campaign.letters.delivery import mark_batch_delivered, open_batch_rows
from campaign.letters.services import get_settings, letter_report, save_settings
from campaign.pages import services as page_services
from campaign.pages.kinds import go_live_refusal
from campaign.pages.models import ActionPage, Campaign, PageStatus
from campaign.pages.public import blank_form, render_page
from campaign.pages.rendering import NO_TRACKING
from campaign.pages.services import CardView, PageEdit, PageError
from campaign.security import CONTENT_SECURITY_POLICY
from campaign.staff import reports, services
from campaign.staff.forms import (
    EXTRA_CARD_ROWS,
    LetterSettingsForm,
    MarkDeliveredForm,
    PageForm,
    TargetListUploadForm,
)
from campaign.targets.services import create_target_list, parse_target_csv

bp = Blueprint("staff", __name__, url_prefix="/staff")

MAX_UPLOAD_BYTES = 1024 * 1024
# Room for the multipart framing, the list's name and the CSRF token around the file.
UPLOAD_FORM_OVERHEAD = 16 * 1024
STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)
STAFF_COPY_MAX_BYTES = 1024 * 1024


@bp.after_request
def no_store(response: Response) -> Response:
    # Staff pages show supporters' names, emails and letters: never keep them in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@login_required
def index():
    return render_template("staff/index.html", rows=services.pages_with_signature_counts())


@bp.get("/activity")
@login_required
@admin_required
def activity():
    """Who changed what: pages, letters, lists, batches, erasures and accounts."""
    return render_template("staff/activity.html", events=recent_staff_events())


def _page_form(page: ActionPage | None) -> PageForm:
    if request.method == "POST":
        form = PageForm()
    elif page is None:
        form = PageForm(data={"kind": "petition", "status": PageStatus.DRAFT.value,
                              "goal": 1000, "cards": []})
    else:
        form = PageForm(data={
            "campaign_id": page.campaign_id, "title": page.title, "slug": page.slug,
            "kind": page.kind, "status": page.status, "summary": page.summary,
            "body_markdown": page.body_markdown, "goal": page.goal,
            "closed_message": page.closed_message,
            "cards": [{"claim": c.claim, "source_title": c.source_title,
                       "source_url": c.source_url, "order": n}
                      for n, c in enumerate(page.evidence_cards, start=1)]})
    if request.method != "POST":
        for _ in range(EXTRA_CARD_ROWS):
            form.cards.append_entry()
    form.set_campaigns(services.campaign_choices())
    return form


def _page_edit(form: PageForm, page: ActionPage | None) -> PageEdit:
    """What the form asks for. A blank address keeps a page's own, or is made from the
    title for a new page."""
    slug = form.slug.data or (page.slug if page else page_services.slug_from(form.title.data))
    return PageEdit(
        title=form.title.data, slug=slug,
        kind=form.kind.data, status=form.status.data, summary=form.summary.data or "",
        body_markdown=form.body_markdown.data or "", goal=form.goal.data,
        closed_message=form.closed_message.data or "",
        cards=tuple(CardView(card.claim.data, card.source_title.data, card.source_url.data)
                    for card in form.kept_cards()))


def allow_long_copy() -> None:
    """For staff forms that carry page or letter copy (views exempt from the CSRF check
    before the request): Korean takes three bytes a character, nine URL-encoded, far
    past the 64 KiB that a supporter's form may send."""
    if request.method == "POST":
        request.max_content_length = STAFF_COPY_MAX_BYTES
        csrf.protect()  # here, not before the request: after the limit is raised


def _save_page_form(page: ActionPage | None):
    """The create and edit forms' shared GET and POST: a page saved, or the form again
    with what is wrong (400), nothing written."""
    allow_long_copy()
    form = _page_form(page)
    error = None
    if form.validate_on_submit():
        edit = _page_edit(form, page)
        try:
            campaign = (page_services.campaign_named(form.new_campaign.data)
                        if form.new_campaign.data
                        else db.session.get(Campaign, form.campaign_id.data))
            saved = page_services.save_page(
                page, campaign, edit, go_live_refusal=go_live_refusal(page, edit.kind))
            record_staff_event("page.created" if page is None else "page.saved", saved.slug,
                               f"{saved.kind}, {saved.status}")
            db.session.commit()
        except PageError as exc:
            db.session.rollback()
            error = str(exc)
        except IntegrityError:  # another staff member took the address a moment ago
            db.session.rollback()
            error = f"Another page already has the address /a/{edit.slug}."
        else:
            flash(f"Page saved ({saved.status}). A live page shows changes within a few "
                  "seconds.", "ok")
            return redirect(url_for(".edit_page", slug=saved.slug), 303)
    status = 400 if (error or form.errors) else 200
    return render_template("staff/page_form.html", form=form, page=page, error=error), status


@bp.route("/pages/new", methods=["GET", "POST"])
@csrf.exempt  # checked by allow_long_copy
@login_required
def new_page():
    return _save_page_form(None)


@bp.route("/pages/<slug>/edit", methods=["GET", "POST"])
@csrf.exempt  # checked by allow_long_copy
@login_required
def edit_page(slug: str):
    return _save_page_form(_page_or_404(slug))


@bp.get("/pages/<slug>/preview")
@login_required
def preview_page(slug: str):
    """The page as supporters will see it, drafts included; its form is not for use."""
    page = page_services.load_page_view(slug)
    if page is None:
        abort(404)
    form, context = blank_form(page)
    return render_page(page, form, form_context=context, preview=True,
                       hidden={**NO_TRACKING, "csrf_token": ""})


def _page_or_404(slug: str) -> ActionPage:
    page = page_services.editable_page(slug)
    if page is None:
        abort(404)
    return page


@bp.get("/pages/<slug>/report")
@login_required
def page_report(slug: str):
    page = _page_or_404(slug)
    return render_template("staff/page_report.html", page=page,
                           report=reports.page_report(page))


@bp.get("/pages/<slug>/report.csv")
@login_required
def page_report_csv(slug: str):
    page = _page_or_404(slug)
    return Response(reports.days_csv(reports.daily_rows(page)), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{page.slug}-by-day.csv"'})


@bp.route("/pages/<slug>/letters", methods=["GET", "POST"])
@csrf.exempt  # checked by allow_long_copy
@login_required
def letters(slug: str):
    page = services.letter_page(slug)
    if page is None:
        abort(404)
    allow_long_copy()
    settings = get_settings(page.id)
    form = LetterSettingsForm(obj=settings) if settings else LetterSettingsForm(
        is_editable=True, max_length=5000, target_hourly_cap=60, over_cap="wait")
    form.set_target_lists(services.target_list_choices())
    error = None
    if form.validate_on_submit():
        try:
            save_settings(slug, subject=form.subject.data, body_template=form.body_template.data,
                          is_editable=form.is_editable.data, max_length=form.max_length.data,
                          targets_house=form.targets_house.data,
                          targets_senate=form.targets_senate.data,
                          target_list_id=form.target_list_id.data,
                          target_hourly_cap=form.target_hourly_cap.data,
                          over_cap=form.over_cap.data)
        except LetterError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            record_staff_event("letter.settings_saved", slug)
            db.session.commit()
            flash("Letter settings saved.", "ok")
            return redirect(url_for(".letters", slug=slug), 303)
    status = 400 if (error or form.errors) else 200
    return render_template("staff/letters.html", page=page, form=form, error=error,
                           report=letter_report(page.id), has_settings=settings is not None
                           ), status


def _render_target_lists(form: TargetListUploadForm, status: int = 200, *,
                         file_error: str | None = None, row_errors=()):
    return render_template("staff/target_lists.html", form=form, file_error=file_error,
                           row_errors=row_errors,
                           lists=services.target_lists_with_counts()), status


@bp.get("/target-lists")
@login_required
def target_lists():
    return _render_target_lists(TargetListUploadForm())


@bp.post("/target-lists")
@csrf.exempt  # checked below, once the larger upload limit applies
@login_required
def upload_target_list():
    too_large = f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
    # The site-wide request limit fits a supporter's form; a list upload may be bigger.
    request.max_content_length = MAX_UPLOAD_BYTES + UPLOAD_FORM_OVERHEAD
    try:
        csrf.protect()
        form = TargetListUploadForm()
        if not form.validate():
            return _render_target_lists(form, 400)
        data = form.file.data.read(MAX_UPLOAD_BYTES + 1)
    except RequestEntityTooLarge:
        return _render_target_lists(TargetListUploadForm(formdata=None), 413,
                                    file_error=too_large)
    if len(data) > MAX_UPLOAD_BYTES:
        return _render_target_lists(form, 413, file_error=too_large)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _render_target_lists(
            form, 400, file_error="The file is not UTF-8 text. In your spreadsheet program, "
                                  "save it as \u201cCSV UTF-8\u201d and upload it again.")
    rows, row_errors = parse_target_csv(text)
    if row_errors:
        return _render_target_lists(form, 400, row_errors=row_errors)
    try:
        target_list = create_target_list(form.name.data, rows)
    except ValueError as exc:
        db.session.rollback()
        return _render_target_lists(form, 400, file_error=str(exc))
    record_staff_event("target_list.created", target_list.name, f"{len(rows)} targets")
    db.session.commit()
    flash(f"Created the list \u201c{target_list.name}\u201d with {len(rows)} targets.", "ok")
    return redirect(url_for(".target_lists"), 303)


def _render_batches(form: MarkDeliveredForm, status: int = 200, error: str | None = None):
    return render_template("staff/batches.html", rows=open_batch_rows(), form=form,
                           error=error), status


@bp.get("/batches")
@login_required
def batches():
    return _render_batches(MarkDeliveredForm())


def _batch_or_404(batch_id: int):
    batch = services.get_batch(batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.get("/batches/<int:batch_id>.csv")
@login_required
def batch_download(batch_id: int):
    batch = _batch_or_404(batch_id)
    return Response(batch_csv(batch), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="batch-{batch.id}.csv"'})


def _allow_own_styles(html: str) -> str:
    """The CSP with the page's own <style> blocks allowed by hash, and nothing else inline.

    Letter text in the page is escaped, so only the template's own blocks match.
    """
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in STYLE_BLOCK.findall(html))
    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", f"style-src 'self'{hashes}")


@bp.get("/batches/<int:batch_id>/print")
@login_required
def batch_print(batch_id: int):
    html = batch_printable_html(_batch_or_404(batch_id))
    return Response(html, mimetype="text/html",
                    headers={"Content-Security-Policy": _allow_own_styles(html)})


@bp.post("/batches/<int:batch_id>/delivered")
@login_required
def batch_delivered(batch_id: int):
    _batch_or_404(batch_id)
    form = MarkDeliveredForm()
    if not form.validate():
        return _render_batches(MarkDeliveredForm(formdata=None), 400,
                               "The note must be one line of at most 500 characters; "
                               f"batch {batch_id} was not marked delivered.")
    try:
        batch = mark_batch_delivered(batch_id, form.note.data or "")
    except LookupError:
        abort(404)
    count = len(batch.letters)
    record_staff_event("batch.delivered", f"batch {batch_id}",
                       f"{count} letters to {batch.target.name}; {form.note.data or ''}")
    db.session.commit()
    flash(f"Batch {batch_id}: {count} letters to {batch.target.name} marked delivered.", "ok")
    return redirect(url_for(".batches"), 303)
