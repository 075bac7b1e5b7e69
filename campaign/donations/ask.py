"""The gift ask on the thank-you step: after signing or writing, a supporter whose page's
campaign has a live donation page sees its amount form (posting to that page), without
the action being sent again. Registered as an after-action hook of campaign.pages.kinds,
so pages/ knows nothing of giving."""

from __future__ import annotations

from flask import Flask, render_template
from markupsafe import Markup
from sqlalchemy import select

from campaign.donations.forms import GiftForm
from campaign.donations.gateway import giving_configured
from campaign.donations.kind import amount_step_context
from campaign.extensions import db
from campaign.pages.kinds import register_after_action
from campaign.pages.models import ActionPage, PageKind, PageStatus
from campaign.pages.public import public_page
from campaign.pages.rendering import NO_TRACKING
from campaign.public_forms import form_token


def _live_donation_slug(page_id: int) -> str | None:
    campaign_id = select(ActionPage.campaign_id).where(ActionPage.id == page_id)
    return db.session.scalars(
        select(ActionPage.slug).where(
            ActionPage.campaign_id == campaign_id.scalar_subquery(),
            ActionPage.kind == PageKind.DONATION.value,
            ActionPage.status == PageStatus.LIVE.value)
        .order_by(ActionPage.id).limit(1)).first()


def gift_ask(page) -> Markup | None:
    if page.kind == PageKind.DONATION.value or not giving_configured():
        return None
    slug = _live_donation_slug(page.id)
    if slug is None:
        return None
    donation_page = public_page(slug)
    context = amount_step_context(donation_page)
    if context is None:
        return None
    form = GiftForm(formdata=None)
    form.fill_defaults(context["giving"])
    hidden = {**NO_TRACKING, "source": "thank-you", "csrf_token": form_token()}
    return Markup(render_template("donations/_ask.html", page=donation_page, form=form,
                                  hidden=hidden, **context))


def register_gift_ask(app: Flask) -> None:
    register_after_action(app, gift_ask)
