"""The letter page as a page kind (campaign.pages.kinds): supporters write to their
representatives through letters' own form and views."""

from __future__ import annotations

from flask import Flask

from campaign.letters import services
from campaign.letters.emails import build_letter_receipt
from campaign.letters.forms import LetterForm
from campaign.pages.kinds import Kind, register_kind
from campaign.pages.models import ActionPage, PageKind


def _form_context(page) -> dict | None:
    settings = services.get_settings(page.id)
    return {"letter": settings} if settings is not None else None


def _fill_blank_form(form: LetterForm, context: dict) -> None:
    form.body.data = context["letter"].body_template


def _go_live_refusal(page: ActionPage | None) -> str | None:
    if page is not None and services.get_settings(page.id) is not None:
        return None
    return ("Set the letter's text and targets before the page goes live: save it as a "
            "draft, then open \u201cLetters and settings\u201d.")


LETTER = Kind(
    name=PageKind.LETTER.value,
    form_class=LetterForm,
    form_template="letters/_form.html",
    form_context=_form_context,
    fill_blank_form=_fill_blank_form,
    go_live_refusal=_go_live_refusal,
    plain_sign_refusal="This page sends letters: please use the letter form on it.",
    settings_endpoint="letters_staff.letters",
    settings_label="Letters and settings",
    # After a letter page, the supporter's one email is a receipt listing their letters.
    thank_you_builder=build_letter_receipt,
)


def register(app: Flask) -> None:
    register_kind(app, LETTER)
