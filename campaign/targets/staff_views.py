"""Staff pages of the targets domain: the custom target lists, and uploading one as CSV."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from campaign.auth.audit import record_staff_event
from campaign.extensions import csrf, db
from campaign.staff.shell import staff_blueprint
from campaign.targets.services import (
    create_target_list,
    parse_target_csv,
    target_lists_with_counts,
)
from campaign.targets.staff_forms import TargetListUploadForm

bp = staff_blueprint("targets_staff", __name__, nav=[("Target lists", ".target_lists")])

MAX_UPLOAD_BYTES = 1024 * 1024
# Room for the multipart framing, the list's name and the CSRF token around the file.
UPLOAD_FORM_OVERHEAD = 16 * 1024


def _render_target_lists(form: TargetListUploadForm, status: int = 200, *,
                         file_error: str | None = None, row_errors=()):
    return render_template("targets/staff/lists.html", form=form, file_error=file_error,
                           row_errors=row_errors, lists=target_lists_with_counts()), status


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
