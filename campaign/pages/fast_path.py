"""Page views answered before Flask: the hottest request, served from the view's caches.

A supporter page is the same for every visitor but for their form token and where they
came from, and `pages.views.show` keeps it rendered per cache period. When that
rendering is fresh and the request carries none of the inputs the contract in
campaign.pages.rendering sends to Flask (a query string), this middleware fills in the
token and the referring site itself: the same bytes and headers as the view, at a
fraction of the CPU (Flask's request context, hooks and response objects are most of a
cached page view's cost, profiled). Anything else, a stale cache included, goes to Flask,
which refreshes the caches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from flask import Flask
from markupsafe import escape

from campaign.pages.forms import referrer_origin
from campaign.pages.public import count_view
from campaign.pages.rendering import NO_TRACKING, TO_FLASK_ENVIRON_KEYS, fill_page
from campaign.public_forms import COOKIE_NAME, NONCE, cookie_header, new_nonce, token_for
from campaign.security import SECURITY_HEADERS

_FORM_COOKIE = re.compile(rf"(?:^|;)\s*{COOKIE_NAME}=({NONCE})(?:;|$)")
_PREFIX = "/a/"


class CachedPageViews:
    def __init__(self, wsgi_app: Callable, flask_app: Flask):
        self.wsgi_app = wsgi_app
        self.flask_app = flask_app
        self.extensions = flask_app.extensions
        # As the view's response has them: Flask-Login reads the session on every
        # response, which makes Flask add Vary: Cookie.
        self.headers = [("Content-Type", "text/html; charset=utf-8"),
                        *SECURITY_HEADERS.items(), ("Vary", "Cookie")]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] == "GET" and path.startswith(_PREFIX):
            for key in TO_FLASK_ENVIRON_KEYS:  # a plain loop: this runs on every request
                if environ.get(key):
                    break
            else:
                caches = self.extensions["page_caches"]
                page = caches.pages.peek(path[len(_PREFIX):])
                if page is not None and (page.is_live or page.is_closed):
                    pieces = caches.rendered.peek(page.id)
                    if pieces is not None:
                        return self._serve(page.id, pieces, environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _serve(self, page_id: int, pieces: list[str], environ: dict,
               start_response: Callable) -> Iterable[bytes]:
        headers = list(self.headers)
        found = _FORM_COOKIE.search(environ.get("HTTP_COOKIE", ""))
        if found:
            nonce = found.group(1)
        else:
            nonce = new_nonce()
            secure = bool(self.flask_app.config.get("SESSION_COOKIE_SECURE"))
            headers.append(("Set-Cookie", cookie_header(nonce, secure=secure)))
        values = dict(NO_TRACKING)
        values["referrer"] = str(escape(referrer_origin(environ.get("HTTP_REFERER"))))
        values["csrf_token"] = token_for(self.flask_app.secret_key, nonce)
        body = fill_page(pieces, values).encode()
        headers.append(("Content-Length", str(len(body))))
        count_view(self.extensions["view_counter"], page_id, "")
        start_response("200 OK", headers)
        return [body]
