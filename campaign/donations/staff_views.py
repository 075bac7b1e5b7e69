"""Staff pages of giving: the donations list (filters, totals, CSV, refused attempts), a
donation with its refunds, and the monthly gifts. Refunds are for admins."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from campaign.auth.access import admin_required
from campaign.auth.audit import record_staff_event
from campaign.donations import refunds, staff_reports
from campaign.donations.money import AmountError, format_money, plain, to_minor
from campaign.donations.staff_forms import (
    INCOMPLETE_FORM,
    DonationFilterForm,
    MonthlyFilterForm,
    RefundForm,
)
from campaign.extensions import db
from campaign.staff.shell import staff_blueprint

FILTER_FIELDS = ("page", "date_from", "date_to", "frequency", "status")

bp = staff_blueprint("donations_staff", __name__,
                     nav=[("Donations", ".donations"), ("Monthly gifts", ".monthly_gifts")])


def _filter_form() -> DonationFilterForm:
    form = DonationFilterForm(formdata=request.args)
    form.set_pages(staff_reports.donation_page_choices())
    return form


def _query_of(form: DonationFilterForm) -> staff_reports.DonationQuery:
    return staff_reports.DonationQuery(
        page_id=form.page.data, date_from=form.date_from.data, date_to=form.date_to.data,
        frequency=form.frequency.data or None, status=form.status.data or None)


@bp.get("/donations")
@login_required
def donations():
    form = _filter_form()
    if not form.validate():
        return render_template("donations/staff/list.html", form=form, rows=[], total=0,
                               totals=[], blocks=[], page_number=1, pages=1,
                               csv_args={}), 400
    query = _query_of(form)
    page_number = form.p.data or 1
    rows, total = staff_reports.donation_rows(query, page_number)
    pages = max(1, -(-total // staff_reports.ROWS_PER_PAGE))
    # The filter's own fields only: url_for takes keys such as _external and _scheme as
    # orders, and the query string is the visitor's to write.
    csv_args = {name: request.args[name] for name in FILTER_FIELDS if request.args.get(name)}
    return render_template(
        "donations/staff/list.html", form=form, rows=rows, total=total,
        totals=staff_reports.currency_totals(query), page_number=page_number, pages=pages,
        blocks=staff_reports.block_counts(query.page_id, query.date_from, query.date_to),
        csv_args=csv_args)


@bp.get("/donations.csv")
@login_required
def donations_csv():
    form = _filter_form()
    if not form.validate():
        problems = "; ".join(f"{form[name].label.text}: {' '.join(errors)}"
                             for name, errors in form.errors.items())
        abort(400, description=f"The filter is not valid ({problems}).")
    return Response(stream_with_context(staff_reports.donations_csv(_query_of(form))),
                    mimetype="text/csv", headers={
                        "Content-Disposition": 'attachment; filename="donations.csv"'})


def _render_detail(donation_id: int, form: RefundForm | None = None, status: int = 200,
                   error: str | None = None):
    found = staff_reports.donation_detail(donation_id)
    if found is None:
        abort(404)
    donation, page, supporter, refund_rows = found
    if form is None:
        left = refunds.refundable(donation)
        form = RefundForm(formdata=None, data={
            "amount": plain(left, donation.currency) if left > 0 else "",
            "refunds_seen": str(len(refund_rows))})
    else:
        # A form sent back with an error offers the figures as they are now.
        form.refunds_seen.data = str(len(refund_rows))
    form.amount.label.text = f"Amount to refund, in {donation.currency.upper()}"
    return render_template("donations/staff/detail.html", donation=donation, page=page,
                           supporter=supporter, refunds=refund_rows, form=form, error=error,
                           refundable=refunds.refundable(donation)), status


@bp.get("/donations/<int:donation_id>")
@login_required
def donation(donation_id: int):
    return _render_detail(donation_id)


@bp.post("/donations/<int:donation_id>/refund")
@login_required
@admin_required
def refund(donation_id: int):
    """Checks and records the refund (one commit), asks Stripe with no lock held, then
    records Stripe's answer and the charge's refunded figure (a second commit)."""
    form = RefundForm()
    if not form.validate_on_submit():
        return _render_detail(donation_id, form, 400)
    if form.seen() is None:
        form.refunds_seen.errors = [INCOMPLETE_FORM]
        return _render_detail(donation_id, form, 400)
    donation = refunds.lock_donation(donation_id)
    if donation is None:
        abort(404)
    try:
        amount = to_minor(form.amount.data, donation.currency)
        refund_row = refunds.request_refund(donation, amount, form.reason.data or "",
                                            form.seen(), current_user.id)
    except AmountError as exc:
        db.session.rollback()
        form.amount.errors = [str(exc)]
        return _render_detail(donation_id, form, 400)
    except refunds.RefundRefused as exc:
        db.session.rollback()
        status = 409 if isinstance(exc, refunds.RefundStale) else 400
        return _render_detail(donation_id, form, status, str(exc))
    money = format_money(amount, donation.currency)
    # The reason stays on the refund's row, which erasing the donor empties: staff type
    # it freely, and it may name the donor.
    record_staff_event("donation.refund_requested", f"donation {donation_id}",
                       f"refund {refund_row.id}: {money}")
    db.session.commit()

    outcome = refunds.send_refund(refund_row.id, donation.stripe_payment_intent_id, amount)
    donation = refunds.lock_donation(donation_id)
    refunds.record_refund_outcome(donation, outcome)
    if outcome.error is None:
        record_staff_event("donation.refunded", f"donation {donation_id}",
                           f"refund {refund_row.id}: {money}")
        flash(f"Refunded {money}.", "ok")
    else:
        record_staff_event("donation.refund_failed", f"donation {donation_id}",
                           f"refund {refund_row.id}: {money}; {outcome.error}")
        flash(f"Stripe did not make the refund of {money}: {outcome.error}", "error")
    db.session.commit()
    return redirect(url_for(".donation", donation_id=donation_id), 303)


@bp.get("/monthly-gifts")
@login_required
def monthly_gifts():
    form = MonthlyFilterForm(formdata=request.args)
    valid = form.validate()
    rows, total = (staff_reports.monthly_rows(form.state.data or None, form.p.data or 1,
                                              form.gift.data) if valid else ([], 0))
    pages = max(1, -(-total // staff_reports.ROWS_PER_PAGE))
    return render_template("donations/staff/monthly.html", form=form, rows=rows,
                           total=total, page_number=form.p.data or 1 if valid else 1,
                           pages=pages, counts=staff_reports.monthly_state_counts(),
                           state=form.state.data if valid else ""), 200 if valid else 400
