"""The staff page for a donation page's giving settings."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import login_required

from campaign.auth.audit import record_staff_event
from campaign.donations.page_settings import SettingsError, get_settings, save_settings
from campaign.donations.settings_forms import GivingSettingsForm
from campaign.extensions import db
from campaign.pages.models import PageKind
from campaign.staff.shell import page_or_404, staff_blueprint

bp = staff_blueprint("giving_staff", __name__)

# What a page without settings starts from: the amounts of the usual US appeal.
STARTING_SETTINGS = {"currency": "usd", "suggested": "10, 25, 50, 100", "default_amount": "25",
                     "minimum_amount": "1", "maximum_amount": "10000",
                     "offer_one_time": True, "offer_monthly": True,
                     "default_frequency": "one_time", "fee_cover_percent": "3",
                     "tribute_enabled": False, "goal_amount": "0"}


@bp.route("/pages/<slug>/giving", methods=["GET", "POST"])
@login_required
def giving(slug: str):
    page = page_or_404(slug)
    if page.kind != PageKind.DONATION.value:
        abort(404)
    settings = get_settings(page.id)
    form = GivingSettingsForm()
    if not form.is_submitted():
        if settings is not None:
            form.fill_from(settings)
        else:
            form.process(data=STARTING_SETTINGS)
    error = None
    if form.validate_on_submit():
        choices = form.choices()
        if choices is not None:
            try:
                save_settings(page.id, choices)
            except SettingsError as exc:
                db.session.rollback()
                error = str(exc)
            else:
                record_staff_event("giving.settings_saved", slug)
                db.session.commit()
                flash("Giving settings saved.", "ok")
                return redirect(url_for(".giving", slug=slug), 303)
    status = 400 if (error or form.errors) else 200
    return render_template("donations/settings.html", page=page, form=form, error=error,
                           has_settings=settings is not None), status
