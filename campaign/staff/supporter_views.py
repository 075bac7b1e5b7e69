"""Staff pages for supporters: find one, see what they did and agreed to, and erase
their personal data when they ask."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from campaign.auth.access import admin_required
from campaign.auth.audit import record_staff_event
from campaign.common.text import normalise_email
from campaign.extensions import db
from campaign.letters.erasure import erase_letters_of
from campaign.staff import services
from campaign.staff.forms import EraseSupporterForm
from campaign.staff.shell import SUPPORTER_SECTIONS, no_store, sections
from campaign.supporters.erasure import (
    ErasureRefused,
    erase_registered_parts,
    erase_supporter_record,
    lock_supporter,
)

bp = Blueprint("staff_supporters", __name__, url_prefix="/staff/supporters")
bp.after_request(no_store)

MAX_QUERY_LENGTH = 254


@bp.get("/")
@login_required
def index():
    query = request.args.get("q", "")[:MAX_QUERY_LENGTH]
    page_number = request.args.get("page", 1, type=int) or 1
    rows, total = services.find_supporters(query, page_number)
    pages = max(1, -(-total // services.SUPPORTERS_PER_PAGE))
    return render_template("staff/supporters.html", rows=rows, total=total, query=query,
                           page_number=min(max(page_number, 1), pages), pages=pages)


def _render_detail(supporter_id: int, form: EraseSupporterForm, status: int = 200,
                   error: str | None = None):
    detail = services.supporter_detail(supporter_id)
    if detail is None:
        abort(404)
    return render_template("staff/supporter.html", detail=detail, form=form, error=error,
                           sections=sections(SUPPORTER_SECTIONS, detail.supporter)), status


@bp.get("/<int:supporter_id>")
@login_required
def show(supporter_id: int):
    return _render_detail(supporter_id, EraseSupporterForm(formdata=None))


@bp.post("/<int:supporter_id>/erase")
@login_required
@admin_required
def erase(supporter_id: int):
    """Erases in one transaction: the supporter's own rows, then their letters."""
    form = EraseSupporterForm()
    if not form.validate_on_submit():
        return _render_detail(supporter_id, form, 400)
    supporter = lock_supporter(supporter_id)
    if supporter is None:
        abort(404)
    if supporter.erased_at is not None:
        db.session.rollback()
        return _render_detail(supporter_id, form, 409, "This supporter is already erased.")
    if normalise_email(form.confirm_email.data) != supporter.email:
        db.session.rollback()
        return _render_detail(supporter_id, form, 400,
                              "That is not this supporter's email: nothing was erased.")
    try:
        withdrawn = erase_letters_of(supporter.id)
        notes = erase_registered_parts(supporter)  # before the email it finds rows by goes
        erase_supporter_record(supporter)
    except ErasureRefused as exc:
        db.session.rollback()
        return _render_detail(supporter_id, form, 409, str(exc))
    record_staff_event("supporter.erased", f"supporter {supporter_id}",
                       "; ".join([f"{withdrawn} undelivered letters withdrawn", *notes]))
    db.session.commit()
    flash("The supporter's personal data is erased"
          + (f", and {withdrawn} undelivered letters withdrawn." if withdrawn else "."), "ok")
    return redirect(url_for(".show", supporter_id=supporter_id), 303)
