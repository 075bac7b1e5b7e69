"""What every staff page shares, whichever domain's blueprint it belongs to: the /staff
prefix, no caching, the larger limit for forms that carry copy, a page or 404, and the
entries of the staff navigation.

Domains import this module for their own staff pages (letter settings, target lists,
fallback batches) and never `campaign.staff.views`, so dependencies run one way: staff's
shell and overview may look into the domains, the domains only into this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from flask.blueprints import BlueprintSetupState

from campaign.extensions import csrf
from campaign.pages import services as page_services
from campaign.pages.models import ActionPage

STAFF_COPY_MAX_BYTES = 1024 * 1024
NAV_EXTENSION = "staff_nav"


@dataclass(frozen=True)
class NavEntry:
    label: str
    endpoint: str


def no_store(response: Response) -> Response:
    # Staff pages show supporters' names, emails and letters: never keep them in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def staff_blueprint(name: str, import_name: str,
                    nav: Iterable[tuple[str, str]] = ()) -> Blueprint:
    """A blueprint under /staff whose answers are never cached. `nav` is (label, view)
    pairs, a view named as in url_for inside the blueprint (".batches"): they join the
    staff navigation, in the order the factory registers the blueprints."""
    bp = Blueprint(name, import_name, url_prefix="/staff")
    bp.after_request(no_store)
    entries = [NavEntry(label, f"{name}{view}" if view.startswith(".") else view)
               for label, view in nav]

    def add_nav_entries(state: BlueprintSetupState) -> None:
        state.app.extensions.setdefault(NAV_EXTENSION, []).extend(entries)

    if entries:
        bp.record_once(add_nav_entries)
    return bp


def nav_entries() -> list[NavEntry]:
    """The domains' entries in the staff navigation, for the layout."""
    return current_app.extensions.get(NAV_EXTENSION, [])


def allow_long_copy() -> None:
    """For staff forms that carry page or letter copy (views exempt from the CSRF check
    before the request): Korean takes three bytes a character, nine URL-encoded, far
    past the 64 KiB that a supporter's form may send."""
    if request.method == "POST":
        request.max_content_length = STAFF_COPY_MAX_BYTES
        csrf.protect()  # here, not before the request: after the limit is raised


def page_or_404(slug: str) -> ActionPage:
    page = page_services.editable_page(slug)
    if page is None:
        abort(404)
    return page


def optional_int(value: object) -> int | None:
    """A select's coercion where "No list" or "Choose a campaign" is None."""
    if value is None or value == "" or value == "None":
        return None
    return int(value)


# Sections a domain adds to staff pages that staff/ owns (a page's report, a supporter's
# page), so staff/ never imports the domain: the domain registers a partial template and a
# loader from its register(app); the page renders each section the loader returns.
PAGE_REPORT_SECTIONS = "staff_page_report_sections"
SUPPORTER_SECTIONS = "staff_supporter_sections"


@dataclass(frozen=True)
class Section:
    template: str
    load: Callable[[Any], dict[str, Any] | None]  # None: nothing to show for this one


def add_section(app: Flask, where: str, template: str,
                load: Callable[[Any], dict[str, Any] | None]) -> None:
    """`where` is PAGE_REPORT_SECTIONS (load gets the ActionPage) or SUPPORTER_SECTIONS
    (load gets the Supporter)."""
    app.extensions.setdefault(where, []).append(Section(template, load))


def sections(where: str, subject: Any) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of each registered section with something to show."""
    shown = []
    for section in current_app.extensions.get(where, []):
        context = section.load(subject)
        if context is not None:
            shown.append((section.template, context))
    return shown
