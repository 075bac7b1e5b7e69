"""The donation page as a page kind (campaign.pages.kinds): donors give through the
amount step on the page (campaign.donations.views) and the card step after it."""

from __future__ import annotations

from flask import Flask

from campaign.donations.forms import GiftForm
from campaign.donations.gateway import giving_configured, payments_simulated
from campaign.donations.page_settings import get_settings
from campaign.donations.totals import raised_for_page
from campaign.pages.kinds import Kind, register_kind
from campaign.pages.models import ActionPage, PageKind


def amount_step_context(page) -> dict | None:
    """What the amount form and the money thermometer show; None without settings."""
    settings = get_settings(page.id)
    if settings is None:
        return None
    return {"giving": settings, "raised": raised_for_page(page.id),
            "giving_on": giving_configured(), "simulated": payments_simulated()}


def _fill_blank_form(form: GiftForm, context: dict) -> None:
    form.fill_defaults(context["giving"])


def _go_live_refusal(page: ActionPage | None) -> str | None:
    if not giving_configured():
        return ("Online giving is off on this site (no STRIPE_SECRET_KEY is set): a donation "
                "page can't go live. Keep the page as a draft.")
    if page is not None and get_settings(page.id) is not None:
        return None
    return ("Set the page's giving settings (amounts, currency, frequencies) before it goes "
            "live: save it as a draft, then open \u201cGiving settings\u201d.")


DONATION = Kind(
    name=PageKind.DONATION.value,
    form_class=GiftForm,  # type: ignore[arg-type] - the kind's own form, not a signature
    form_template="donations/_amount_form.html",
    form_context=amount_step_context,
    fill_blank_form=_fill_blank_form,
    go_live_refusal=_go_live_refusal,
    plain_sign_refusal="This page takes gifts: please use the gift form on it.",
    settings_endpoint="giving_staff.giving",
    settings_label="Giving settings",
    progress_template="donations/_money_thermometer.html",
)


def register(app: Flask) -> None:
    register_kind(app, DONATION)
