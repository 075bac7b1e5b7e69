"""Staff pages of the letters domain: a letter page's settings and report, and the
fallback batches staff print or hand over."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_login import login_required

from campaign.auth.audit import record_staff_event
from campaign.extensions import csrf, db
from campaign.letters.batches import batch_csv, batch_printable_html, get_batch
from campaign.letters.compose import LetterError
from campaign.letters.delivery import mark_batch_delivered, open_batch_rows
from campaign.letters.services import get_settings, letter_report, save_settings
from campaign.letters.staff_forms import LetterSettingsForm, MarkDeliveredForm
from campaign.pages.models import PageKind
from campaign.security import CONTENT_SECURITY_POLICY
from campaign.staff.shell import allow_long_copy, page_or_404, staff_blueprint
from campaign.targets.services import target_list_choices

bp = staff_blueprint("letters_staff", __name__, nav=[("Fallback batches", ".batches")])

STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)


@bp.route("/pages/<slug>/letters", methods=["GET", "POST"])
@csrf.exempt  # checked by allow_long_copy
@login_required
def letters(slug: str):
    page = page_or_404(slug)
    if page.kind != PageKind.LETTER.value:
        abort(404)
    allow_long_copy()
    settings = get_settings(page.id)
    form = LetterSettingsForm(obj=settings) if settings else LetterSettingsForm(
        is_editable=True, max_length=5000, target_hourly_cap=60, over_cap="wait")
    form.set_target_lists(target_list_choices())
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
    return render_template("letters/staff/settings.html", page=page, form=form, error=error,
                           report=letter_report(page.id), has_settings=settings is not None
                           ), status


def _render_batches(form: MarkDeliveredForm, status: int = 200, error: str | None = None):
    return render_template("letters/staff/batches.html", rows=open_batch_rows(), form=form,
                           error=error), status


@bp.get("/batches")
@login_required
def batches():
    return _render_batches(MarkDeliveredForm())


def _batch_or_404(batch_id: int):
    batch = get_batch(batch_id)
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
