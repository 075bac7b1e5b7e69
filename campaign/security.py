"""Request hygiene for every public endpoint: strict UTF-8 bodies, security headers and
error pages that say what went wrong without a stack trace."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Flask, Request, Response, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser

from campaign.public_forms import set_form_cookie

# Supporter pages load nothing from another origin: no fonts, scripts, styles or images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Our own pages may learn which of our pages a supporter came from; nobody else may.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=(), browsing-topics=()",
}


class StrictFormDataParser(FormDataParser):
    """Refuses a url-encoded form that is not UTF-8.

    Werkzeug would keep the bad bytes as %-escapes and we would store mojibake. Raising
    an HTTP error (not a ValueError, which the parser swallows) makes it a 400 wherever
    the form is first read, CSRF check included.
    """

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        try:
            items = parse_qsl(stream.read().decode(), keep_blank_values=True,
                              encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("The form was not sent as UTF-8 text.") from None
        return stream, self.cls(items), self.cls()


class StrictRequest(Request):
    form_data_parser_class = StrictFormDataParser


_SECURITY_HEADER_ITEMS = tuple(SECURITY_HEADERS.items())


# GET pages that are the same for every visitor (their form token aside): a browser may
# keep these. Every other response, any answer to a POST, a letter's status page, an
# error, and whatever page is added later, says `no-store`: it may carry a supporter's
# name, email or letter, and must not stay in a shared computer's cache or history.
CACHEABLE_ENDPOINTS = frozenset({"static", "pages.index", "pages.show", "pages.thanks"})


def add_cache_policy(response: Response) -> Response:
    if request.endpoint not in CACHEABLE_ENDPOINTS or request.method not in ("GET", "HEAD"):
        response.headers["Cache-Control"] = "no-store"
    return response


class StrictTransportSecurity:
    """WSGI middleware: a Strict-Transport-Security header on every response, those the
    page fast path answers before Flask included."""

    def __init__(self, app, max_age: int):
        self.app = app
        self.header = ("Strict-Transport-Security", f"max-age={int(max_age)}")

    def __call__(self, environ: dict, start_response):
        def start(status, headers, exc_info=None):
            headers.append(self.header)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if "Content-Security-Policy" in headers:  # a view chose its own policy: keep it
        for name, value in _SECURITY_HEADER_ITEMS:
            headers.setdefault(name, value)
    else:  # one call, not a scan of the headers per name, on every response
        headers.extend(_SECURITY_HEADER_ITEMS)
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key.

    Flask builds one twice per request, even for a request without a session cookie, and
    building one runs a trial serialisation (a tenth of a page view's CPU, profiled).
    A serializer keeps no per-request state, so threads can share it. An untouched empty
    session is not looked at again on the way out.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._serializers:
            self._serializers[keys] = super().get_signing_serializer(app)
        return self._serializers[keys]

    def save_session(self, app: Flask, session, response: Response) -> None:
        # Supporter pages never touch the session: nothing to write, delete or vary on.
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)


def _error_page(status: int, title: str, message: str):
    return render_template("errors/error.html", title=title, message=message), status


def register_security(app: Flask) -> None:
    app.request_class = StrictRequest
    app.session_interface = SessionInterface()
    app.after_request(add_security_headers)
    app.after_request(add_cache_policy)
    app.after_request(set_form_cookie)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _error_page(400, "Please try again",
                           "Your form expired or came from somewhere else. Reload the page "
                           "and send it again.")

    @app.errorhandler(400)
    def bad_request(error):
        return _error_page(400, "Something in the form was wrong",
                           getattr(error, "description", None) or "Please check and resend.")

    @app.errorhandler(403)
    def forbidden(error):
        return _error_page(403, "Not for this account",
                           getattr(error, "description", None)
                           or "Your account may not do this.")

    @app.errorhandler(404)
    def not_found(error):
        return _error_page(404, "Page not found", "There is no page at this address.")

    @app.errorhandler(405)
    def method_not_allowed(error):
        return _error_page(405, "Not allowed", "This address does not accept that request.")

    @app.errorhandler(413)
    def too_large(error):
        return _error_page(413, "Too much text", "The form sent more text than we accept.")

    @app.errorhandler(429)
    def too_many(error):
        return _error_page(429, "Too many requests",
                           "Too many submissions came from your network. Please wait a "
                           "minute and try again.")
