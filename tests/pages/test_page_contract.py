"""The fast path's contract (campaign.pages.rendering): a page answered from the caches is
the page Flask would render for that very request, whatever the request carries, and the
rendering reads no request input the contract does not name."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Request
from flask_login import current_user
from werkzeug.test import Client

from campaign.config import PROJECT_ROOT
from campaign.extensions import db
from campaign.letters.services import save_settings
from campaign.pages import services as page_services
from campaign.pages.fast_path import CachedPageViews
from campaign.pages.rendering import PAGE_INPUTS, blank_page_pieces, request_slot_values
from campaign.public_forms import new_nonce
from tests.helpers import CSRF_PATTERN

# Requests a page could one day depend on: each is sent alone, on top of a plain visit.
NONCE = new_nonce()
VARIANTS = {
    "nothing": {},
    "Accept-Language": {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"},
    "lang cookie": {"Cookie": "lang=ko"},
    "form cookie": {"Cookie": f"campaign_form={NONCE}"},
    "both cookies": {"Cookie": f"lang=ko; campaign_form={NONCE}"},
    "Referer": {"Referer": "https://news.example/story?id=1"},
    "odd Referer": {"Referer": "javascript:alert(1)"},
    "User-Agent": {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile"},
    "Accept": {"Accept": "application/json"},
    "Save-Data": {"Save-Data": "on"},
    "Sec-CH-Prefers-Color-Scheme": {"Sec-CH-Prefers-Color-Scheme": "dark"},
    "DNT": {"DNT": "1"},
    "Host": {"Host": "other.example"},
    "X-Forwarded-Proto": {"X-Forwarded-Proto": "https"},
}
QUERIES = ["", "lang=ko", "source=tw&utm_campaign=spring"]


pytestmark = pytest.mark.usefixtures("cached_pages")


@pytest.fixture(params=["petition", "letter", "donation"])
def slug(request, app, create_page):
    kind = request.param
    if kind == "donation":
        from tests.donations.giving import donation_page

        return donation_page(app, create_page, title="A donation page")
    slug = create_page(kind=kind, title=f"A {kind} page")
    if kind == "letter":
        with app.app_context():
            save_settings(slug, subject="Enforce the sanctions", targets_house=True,
                          body_template="Please enforce the forced-labour sanctions.")
            db.session.commit()
    return slug


def comparable(response) -> tuple[str, dict]:
    """The body with this visitor's token taken out, and the headers but for the cookie
    (another visitor, another cookie) and the length (tokens' lengths are equal anyway)."""
    body = response.get_data(as_text=True)
    body = body.replace(CSRF_PATTERN.search(body).group(1), "TOKEN")
    headers = {name: value for name, value in response.headers.items()
               if name not in ("Set-Cookie", "Content-Length")}
    return body, headers


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_cached_page_is_what_flask_renders_for_the_same_request(app, slug, variant, query):
    path, headers = f"/a/{slug}", VARIANTS[variant]
    caches = app.extensions["page_caches"]
    caches.clear()
    fresh = app.test_client().get(path, query_string=query, headers=headers)
    assert fresh.status_code == 200

    caches.clear()
    assert app.test_client().get(path).status_code == 200  # a plain visit fills the caches
    went_to_flask = []

    def flask(environ, start_response):
        went_to_flask.append(environ["PATH_INFO"])
        return app.wsgi_app(environ, start_response)

    cached = Client(CachedPageViews(flask, app)).get(path, query_string=query, headers=headers)
    assert comparable(cached) == comparable(fresh)
    # What the fast path answers itself: every request but those with a query string.
    assert went_to_flask == ([path] if query else [])


class RecordingRequest(Request):
    """Records, while `reads` is a set, which request inputs are read, named as in
    campaign.pages.rendering.PAGE_INPUTS."""

    reads: set[str] | None = None

    def __getattribute__(self, name: str):
        value = super().__getattribute__(name)
        reads = super().__getattribute__("__dict__").get("reads")
        # Classes the request builds its mappings with are set-up, not input.
        if reads is None or name.startswith("_") or name == "reads" or isinstance(value, type):
            return value
        if name == "cookies":
            return _RecordingMapping(value, reads, "cookie:{}")
        if name == "headers":
            return _RecordingMapping(value, reads, "header:{}", normalise=str.title)
        if name in ("args", "query_string"):
            reads.add("query")
        elif name == "referrer":
            reads.add("header:Referer")
        elif name not in ROUTING:
            reads.add(name)
        return value


# What routing made of the address: the page's slug, the cache's own key.
ROUTING = {"url_rule", "view_args", "endpoint", "blueprint", "blueprints",
           "routing_exception"}


class _RecordingMapping:
    def __init__(self, mapping, reads: set[str], pattern: str, normalise=str):
        self._mapping, self._reads = mapping, reads
        self._pattern, self._normalise = pattern, normalise

    def _record(self, key: str) -> None:
        self._reads.add(self._pattern.format(self._normalise(key)))

    def get(self, key, *args, **kwargs):
        self._record(key)
        return self._mapping.get(key, *args, **kwargs)

    def __getitem__(self, key):
        self._record(key)
        return self._mapping[key]

    def __contains__(self, key):
        self._record(key)
        return key in self._mapping

    def __getattr__(self, name):
        self._reads.add(self._pattern.format("*"))  # keys(), items(), iteration: all of it
        return getattr(self._mapping, name)

    def __iter__(self):
        self._reads.add(self._pattern.format("*"))
        return iter(self._mapping)


def rendering_reads(app, slug: str, **request_args) -> set[str]:
    """The request inputs read while the page is rendered and its slots filled."""
    app.request_class, saved = RecordingRequest, app.request_class
    try:
        with app.test_request_context(f"/a/{slug}", **request_args) as context:
            page = page_services.load_page_view(slug)
            # Flask-Login puts the staff login in every template's context, reading the
            # session cookie, address and User-Agent to load it; no public template uses
            # it (test_public_templates_leave_the_staff_login_alone), so it is loaded first.
            current_user._get_current_object()
            context.request.reads = reads = set()
            blank_page_pieces(page)
            request_slot_values()
            context.request.reads = None
            return reads
    finally:
        app.request_class = saved


def test_rendering_reads_only_the_inputs_the_contract_names(app, slug):
    contract = {request_input.name for request_input in PAGE_INPUTS}
    every_header = {name: "x" for name in (
        "Accept-Language", "Accept", "User-Agent", "DNT", "Save-Data", "X-Requested-With")}
    for request_args in (
            {},
            {"query_string": "source=tw&lang=ko",
             "headers": {**every_header, "Referer": "https://news.example/",
                         "Cookie": f"lang=ko; campaign_form={NONCE}"}}):
        reads = rendering_reads(app, slug, **request_args)
        assert reads <= contract, f"rendering reads {reads - contract}, which the " \
            "contract in campaign/pages/rendering.py does not name"


def test_the_recording_sees_a_language_read_during_rendering(app, slug, monkeypatch):
    """The check above would see a Korean version choosing by Accept-Language."""
    import campaign.pages.rendering as rendering

    original = rendering.blank_form

    def choosing_a_language(page):
        from flask import request

        request.headers.get("Accept-Language")
        request.cookies.get("lang")
        return original(page)

    monkeypatch.setattr(rendering, "blank_form", choosing_a_language)
    reads = rendering_reads(app, slug, headers={"Accept-Language": "ko"})
    assert {"header:Accept-Language", "cookie:lang"} <= reads


def test_public_templates_leave_the_staff_login_alone():
    templates = Path(PROJECT_ROOT / "templates")
    public = [*templates.glob("pages/*.html"), *templates.glob("letters/_*.html"),
              templates / "base.html", templates / "_macros.html"]
    assert len(public) > 5
    for template in public:
        text = template.read_text()
        assert "current_user" not in text and "session" not in text, template
