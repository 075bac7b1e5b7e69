"""What a request may carry before any of it reaches the database.

PostgreSQL refuses a NUL in text and a number too large for its column; both used to
surface as a 500. Here, once for every view: no control characters in the address or
the query string (400), ids in `<int:...>` routes that fit their column (404 past that),
text fields of every form checked for control characters (a message on the field), and
a request body the server could not read (a broken chunked encoding, a body cut short)
answered 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from flask import Flask, abort, request
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter
from wtforms import Form, PasswordField, StringField, TextAreaField
from wtforms.validators import StopValidation

from campaign.common.text import has_control_characters

# Every id is an INTEGER column (PostgreSQL's serial): past this there is no row, and a
# larger number bound to one is an error. A table that moves to bigint ids changes this.
MAX_ID = 2**31 - 1
# Multi-line text may keep its line breaks and tabs, and nothing else below U+0020.
_BAD_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f]")

SINGLE_LINE_MESSAGE = "Please use a single line without special characters."
TEXT_MESSAGE = ("Please remove the special characters (such as NUL) from this text; line "
                "breaks and tabs are fine.")
PASSWORD_MESSAGE = ("A password may not contain control characters (such as NUL, a tab or "
                    "a line break).")
ADDRESS_MESSAGE = ("This address, or a search in it, has control characters (such as a NUL "
                   "byte), which no page here uses. Please check the link or what you "
                   "searched for.")
BROKEN_BODY_MESSAGE = ("The request's body could not be read (a broken chunked encoding, or "
                       "cut short). Please send the form again.")


class IdConverter(IntegerConverter):
    """`<int:...>` for ids: 1 to MAX_ID, so a larger number is simply no page (404)
    rather than an error from the database."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1,  # noqa: A002
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def refuse_control_characters_in_address() -> None:
    """before_request: a path or query string with a control character is refused (400)."""
    if _BAD_IN_ADDRESS.search(request.path):
        abort(400, description=ADDRESS_MESSAGE)
    if request.query_string:
        for key, value in request.args.items(multi=True):
            if _BAD_IN_ADDRESS.search(key) or _BAD_IN_ADDRESS.search(value):
                abort(400, description=ADDRESS_MESSAGE)


def _single_line(form, field) -> None:
    if isinstance(field.data, str) and has_control_characters(field.data):
        raise StopValidation(SINGLE_LINE_MESSAGE)


def _text(form, field) -> None:
    if isinstance(field.data, str) and _BAD_IN_TEXT.search(field.data):
        raise StopValidation(TEXT_MESSAGE)


def _password(form, field) -> None:
    if isinstance(field.data, str) and has_control_characters(field.data):
        raise StopValidation(PASSWORD_MESSAGE)


def text_check_for(field_class: type) -> Callable | None:
    if issubclass(field_class, TextAreaField):
        return _text
    if issubclass(field_class, PasswordField):
        return _password
    if issubclass(field_class, StringField):
        return _single_line
    return None


class PlainTextMeta:
    """A form Meta mixin: every text field's first check refuses control characters
    (text areas keep line breaks and tabs), before its own validators see the value and
    long before the database does."""

    def bind_field(self, form, unbound_field, options):
        check = text_check_for(unbound_field.field_class)
        if check is not None:
            # Options given here override the field's own keyword arguments.
            validators = unbound_field.kwargs.get("validators") or ()
            options = {**options, "validators": [check, *validators]}
        return super().bind_field(form, unbound_field, options)


class CheckedForm(FlaskForm):
    """The base of every form: text fields refuse control characters (PlainTextMeta)."""

    class Meta(PlainTextMeta):
        pass


class CheckedRowForm(Form):
    """The same, for the rows of a FieldList (no CSRF token of their own)."""

    class Meta(PlainTextMeta):
        pass


class _GuardedInput:
    """The server's request body stream, with its read errors made a 400.

    Gunicorn raises its own parse errors (not OSError) from a read when a chunk is
    broken; Flask would answer 500 wherever the form is first read.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def _guarded(self, read: Callable, *args):
        try:
            return read(*args)
        except HTTPException:
            raise
        except Exception as error:
            raise BadRequest(BROKEN_BODY_MESSAGE) from error

    def read(self, *args) -> bytes:
        return self._guarded(self._stream.read, *args)

    def readline(self, *args) -> bytes:
        return self._guarded(self._stream.readline, *args)

    def readlines(self, *args) -> list[bytes]:
        return self._guarded(self._stream.readlines, *args)

    def __iter__(self) -> Iterable[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class GuardedRequestBody:
    """WSGI middleware: requests that carry a body read it through `_GuardedInput`."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable):
        if environ.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" in environ:
            environ["wsgi.input"] = _GuardedInput(environ["wsgi.input"])
        return self.wsgi_app(environ, start_response)


def register_input_checks(app: Flask) -> None:
    """Before any blueprint is registered: routes bind their converters when added."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_control_characters_in_address)
    app.wsgi_app = GuardedRequestBody(app.wsgi_app)
