"""A public page rendered once per cache period, and the contract that lets the fast path
(campaign.pages.fast_path) answer repeat views of it without entering Flask.

A blank page is the same for every visitor but for their form token and where they came
from, so it is rendered once per cache period into pieces with unique slots for those
values, which each request fills in. Rendering the form's fields is most of a page view's
cost.

The contract: the page a request gets may depend on the page's address and on the
request inputs in PAGE_INPUTS, and on nothing else of the request.
- Inputs filled into slots per request (SLOT): the fast path fills them the way
  `request_slot_values` does.
- Inputs the fast path does not read (TO_FLASK): a request carrying one goes to Flask.
An input that would change the rendered pieces themselves (a language chosen by
Accept-Language or a cookie) must be added here as TO_FLASK, and the pieces cached per
value of it, before the rendering reads it: tests/pages/test_page_contract.py fails when
rendering reads a request input this list does not name, and when the fast path's answer
differs from a fresh rendering for any request header.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import request
from markupsafe import escape

from campaign.pages.forms import HIDDEN_FIELDS, TRACKING_FIELDS, tracking_values
from campaign.pages.public import blank_form, render_page
from campaign.pages.services import PageView
from campaign.public_forms import COOKIE_NAME, form_token

SLOT = "filled into a slot"
TO_FLASK = "goes to Flask"


@dataclass(frozen=True)
class RequestInput:
    name: str  # as the spy in the contract test records it: "cookie:<name>", "header:<Name>"
    environ_key: str  # where the fast path finds it in the WSGI environ
    fast_path: str  # SLOT or TO_FLASK


PAGE_INPUTS = (
    # The visitor's form cookie: the csrf_token slot (campaign.public_forms).
    RequestInput(f"cookie:{COOKIE_NAME}", "HTTP_COOKIE", SLOT),
    # The referring site: the referrer slot (its origin only).
    RequestInput("header:Referer", "HTTP_REFERER", SLOT),
    # ?source= and utm_*: the tracking slots, and the source the view is counted under.
    RequestInput("query", "QUERY_STRING", TO_FLASK),
)
TO_FLASK_ENVIRON_KEYS = tuple(i.environ_key for i in PAGE_INPUTS if i.fast_path == TO_FLASK)

_SLOT_NONCE = secrets.token_hex(8)
_SLOT_PATTERN = re.compile(f"slot-{_SLOT_NONCE}-([a-z_]+)")
NO_TRACKING: dict[str, str] = dict.fromkeys(TRACKING_FIELDS, "")


def _slot(name: str) -> str:
    return f"slot-{_SLOT_NONCE}-{name}"


def blank_page_pieces(page: PageView) -> list[str]:
    """The page as [text, slot name, text, slot name, ..., text]. Reads no request input:
    it is shared by every visitor for the cache period."""
    form, context = blank_form(page)
    html, _ = render_page(page, form, form_context=context,
                          hidden={name: _slot(name) for name in HIDDEN_FIELDS})
    return _SLOT_PATTERN.split(html)


def request_slot_values() -> dict[str, str]:
    """This request's values for the slots, HTML-escaped. Where the supporter came from
    travels with the form, so the signature keeps it."""
    if not request.query_string and not request.referrer:  # most visits: nothing to keep
        values = dict(NO_TRACKING)
    else:
        values = {name: str(escape(value))
                  for name, value in tracking_values(request.args, request.referrer).items()}
    values["csrf_token"] = form_token()
    return values


def fill_page(pieces: list[str], values: dict[str, str]) -> str:
    # Odd positions are slot names (re.split keeps the captured group).
    return "".join(values[piece] if i % 2 else piece for i, piece in enumerate(pieces))
