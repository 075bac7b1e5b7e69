"""Keeping personal data out of log lines.

- A supporter's private links carry a secret in their path: the letters' status link
  (`/letters/<token>`), the opt-in confirmation (`/confirm/<token>`), a gift's card step
  (`/give/<token>...`) and a monthly donor's links (`/gifts/manage/<token>`,
  `/gifts/card/<token>`). The access logs
  of gunicorn (GunicornLogger, named by gunicorn.conf.py's `logger_class`) and of the
  development server (the `werkzeug` logger), and Flask's error log, record them as
  `/letters/<redacted>`, `/confirm/<redacted>`, `/give/<redacted>` and
  `/gifts/.../<redacted>`, in the request line, the Referer and every other field.
- PostgreSQL's error messages quote the failing row ("DETAIL: Failing row contains (...)":
  an email, a name, a letter's text) and psycopg puts that detail in the exception's
  message, which tracebacks log and failure reasons store. `keep_database_errors_terse`
  leaves only the primary message; the rest stays readable in `exc.diag`. SQLAlchemy's
  own copy of the parameters is off by `hide_parameters` (campaign.config).
"""

from __future__ import annotations

import logging
import re

import psycopg
from gunicorn.glogging import Logger as _GunicornBaseLogger
from sqlalchemy import event
from sqlalchemy.engine import Engine

# A gift's card step (/give/<token>) and a monthly donor's links (/gifts/manage/<token>,
# /gifts/card/<token>) act on a gift.
PRIVATE_PATH = re.compile(r"/(letters|confirm|give|gifts/manage|gifts/card)/[^/\s?#\"'<>]+")


def redact_private_paths(text: str) -> str:
    return PRIVATE_PATH.sub(r"/\1/<redacted>", text)


def _redacted(value: object) -> object:
    return redact_private_paths(value) if isinstance(value, str) else value


class PrivatePathFilter(logging.Filter):
    """Rewrites a record's message and arguments so no private path is in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, dict):
            # In place: gunicorn's access log passes a dict subclass that answers "-" for
            # a header the request did not send.
            for key, value in list(record.args.items()):
                record.args[key] = _redacted(value)
        elif record.args:
            record.args = tuple(_redacted(value) for value in record.args)
        return True


# Loggers that may name a request's path: the development server's access log and
# Flask's "Exception on <path>" error log (the app's logger is named after its package).
REQUEST_LOGGERS = ("werkzeug", "campaign")


def install_log_redaction() -> None:
    """Adds the filter to the loggers that name request paths; safe to call again."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, PrivatePathFilter) for f in logger.filters):
            logger.addFilter(PrivatePathFilter())


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's logger, with private paths redacted from every access log field and
    from its error log (`logger_class = "campaign.common.logging.GunicornLogger"`)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            if not any(isinstance(f, PrivatePathFilter) for f in logger.filters):
                logger.addFilter(PrivatePathFilter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        return {key: _redacted(value)
                for key, value in super().atoms(resp, req, environ, request_time).items()}


# SQLSTATE class 22 (data exceptions: bad input syntax, bad encoding) quotes the value
# in the primary message itself.
_QUOTED = re.compile(r'"[^"]*"')


def _keep_primary_message(exc: psycopg.Error) -> None:
    primary = exc.diag.message_primary
    if not primary:
        return
    if (exc.sqlstate or "").startswith("22"):
        primary = _QUOTED.sub('"..."', primary)
    exc.args = (primary,)


class TerseErrorCursor(psycopg.Cursor):
    """A cursor whose errors say what went wrong, not which row it went wrong with."""

    def execute(self, *args, **kwargs):
        try:
            return super().execute(*args, **kwargs)
        except psycopg.Error as exc:
            _keep_primary_message(exc)
            raise

    def executemany(self, *args, **kwargs):
        try:
            return super().executemany(*args, **kwargs)
        except psycopg.Error as exc:
            _keep_primary_message(exc)
            raise


def _use_terse_cursors(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, psycopg.Connection):
        dbapi_connection.cursor_factory = TerseErrorCursor


def keep_database_errors_terse() -> None:
    """Every new psycopg connection of every engine gets TerseErrorCursor."""
    if not event.contains(Engine, "connect", _use_terse_cursors):
        event.listen(Engine, "connect", _use_terse_cursors)
