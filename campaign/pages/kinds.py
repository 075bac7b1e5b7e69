"""Page kinds: what differs between a petition, a letter page and the kinds to come.

A kind is a small object registered on the app (app.extensions["page_kinds"]) by the
domain that owns it: pages/ registers the petition, letters/ the letter and donations/
the donation page. pages/ reads a page's kind from the registry and imports no other
kind's module, so a new kind is a new package that calls `register_kind`, not an edit
here. Likewise another domain adds to the thank-you step with `register_after_action`
(a gift ask).

The kinds a page may have are also a check constraint on action_pages.kind
(campaign.pages.models.PageKind): a new kind needs its migration too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from campaign.pages.forms import SignForm
from campaign.pages.models import ActionPage, PageKind

if TYPE_CHECKING:
    from campaign.pages.services import PageView
    from campaign.supporters.models import Action


def _no_context(page: PageView) -> dict[str, Any] | None:
    return {}


def _always_ready(page: ActionPage | None) -> str | None:
    return None


@dataclass(frozen=True)
class Kind:
    name: str
    # The public form: its class, the partial that shows it under the page's argument,
    # and that partial's context. The context is None when the page can't take part yet
    # (a letter page without its letter).
    form_class: type[SignForm] = SignForm
    form_template: str = "pages/_sign_form.html"
    form_context: Callable[[PageView], dict[str, Any] | None] = _no_context
    # Fills a first visit's blank form from the context (a letter's editable text).
    fill_blank_form: Callable[[SignForm, dict[str, Any]], None] | None = None
    # Why a page of this kind may not go live yet, or None when it may.
    go_live_refusal: Callable[[ActionPage | None], str | None] = _always_ready
    # Refuses a plain signature (POST /a/<slug>) with this text: the kind takes part
    # through its own form and views.
    plain_sign_refusal: str | None = None
    # The staff page for what this kind needs besides the page (url_for endpoint, with
    # the page's slug), and its link text.
    settings_endpoint: str | None = None
    settings_label: str = ""
    # The one email after taking part, when it is not the plain thank-you:
    # builder(action, confirm_url). A kind with one sends it as a receipt (see
    # campaign.supporters.thanks.receipt_kinds).
    thank_you_builder: Callable[[Action, str | None], Message] | None = None
    # The partial shown under the page's summary in place of the signature thermometer
    # (a donation page shows money raised); it gets the form context.
    progress_template: str | None = None


PETITION = Kind(name=PageKind.PETITION.value)


def register_kind(app: Flask, kind: Kind) -> None:
    """Adds or replaces the kind named `kind.name`."""
    app.extensions.setdefault("page_kinds", {})[kind.name] = kind


def register_page_kinds(app: Flask) -> None:
    """The kind pages/ itself knows: the default one."""
    register_kind(app, PETITION)
    # Staff pages link to a kind's settings page through it.
    app.add_template_global(kind_of, "page_kind")
    app.add_template_global(after_action, "after_action")


def registered_kinds() -> dict[str, Kind]:
    return current_app.extensions.get("page_kinds", {})


def kind_of(name: str) -> Kind:
    """The registered kind named `name`; the petition, the default, for any other."""
    return registered_kinds().get(name, PETITION)


def go_live_refusal(page: ActionPage | None, kind_name: str) -> str | None:
    """Why a page of `kind_name` (`page` as stored, None if new) may not go live yet."""
    return kind_of(kind_name).go_live_refusal(page)


AFTER_ACTION_EXTENSION = "after_action_hooks"


def register_after_action(app: Flask, hook: Callable[[PageView], Any]) -> None:
    """Adds `hook(page) -> markup or None`, shown on the thank-you step after taking part
    on `page` (another domain's ask: a gift after signing), without pages/ knowing it."""
    app.extensions.setdefault(AFTER_ACTION_EXTENSION, []).append(hook)


def after_action(page: PageView) -> list[Any]:
    """What the registered hooks add to `page`'s thank-you step (template global)."""
    shown = []
    for hook in current_app.extensions.get(AFTER_ACTION_EXTENSION, []):
        markup = hook(page)
        if markup:
            shown.append(markup)
    return shown
