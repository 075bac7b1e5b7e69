"""Staff pages: every page at a glance, building and editing pages, their reports, and
the activity record. Letter settings, fallback batches and target lists are the domains'
own staff pages (campaign/letters/staff_views.py, campaign/targets/staff_views.py)."""

from __future__ import annotations

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

from campaign.auth.access import admin_required
from campaign.auth.audit import recent_staff_events, record_staff_event
from campaign.extensions import csrf, db
from campaign.pages import services as page_services
from campaign.pages.kinds import go_live_refusal
from campaign.pages.models import ActionPage, Campaign, PageStatus
from campaign.pages.public import blank_form, render_page
from campaign.pages.rendering import NO_TRACKING
from campaign.pages.services import CardView, PageEdit, PageError
from campaign.staff import reports, services, shell
from campaign.staff.forms import EXTRA_CARD_ROWS, PageForm
from campaign.staff.shell import allow_long_copy
from campaign.staff.shell import page_or_404 as _page_or_404

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.after_request(shell.no_store)
# The domains' own staff pages (letters, target lists, batches) add their entries.
bp.add_app_template_global(shell.nav_entries, "staff_nav")


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


@bp.get("/pages/<slug>/report")
@login_required
def page_report(slug: str):
    page = _page_or_404(slug)
    return render_template("staff/page_report.html", page=page,
                           report=reports.page_report(page),
                           sections=shell.sections(shell.PAGE_REPORT_SECTIONS, page))


@bp.get("/pages/<slug>/report.csv")
@login_required
def page_report_csv(slug: str):
    page = _page_or_404(slug)
    return Response(reports.days_csv(reports.daily_rows(page)), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{page.slug}-by-day.csv"'})
