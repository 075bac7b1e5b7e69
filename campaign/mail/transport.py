"""Sends built messages: over SMTP with a reused connection, or into an outbox folder."""

from __future__ import annotations

import hashlib
import os
import smtplib
import socket
import ssl
import tempfile
import threading
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from campaign.common.text import without_addresses


class MailError(Exception):
    """Its message is stored as a failure reason and may be logged: the addresses a
    server's reply quotes (the supporter's, for a thank-you) are taken out of it."""

    def __init__(self, message: str):
        super().__init__(without_addresses(message))


class TransientMailError(MailError):
    """Worth retrying later: a 4xx reply, a refused connection, a timeout."""


class PermanentMailError(MailError):
    """Retrying will not help: a 5xx reply."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


def _classify(code: int, text: str) -> MailError:
    if 400 <= code < 500:
        return TransientMailError(f"{code} {text}")
    return PermanentMailError(f"{code} {text}", code)


class OutboxTransport:
    """Writes each message to `<dir>/<message-id hash>.eml`.

    The name comes from the Message-ID, so sending the same message twice leaves one
    file; the write goes through a temporary file so a reader never sees half a message.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def send(self, message: Message) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:24] + ".eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, self.directory / name)

    def close(self) -> None:
        pass


class SMTPTransport:
    """One SMTP connection per thread, kept open between messages.

    URL form: smtp://user:pass@host:587?starttls=1&timeout=10, or smtps:// for TLS
    from the first byte.
    """

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.host = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "0").lower() in ("1", "true", "yes")
        self.timeout = float(query.get("timeout", "10"))
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.implicit_tls:
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                connection.starttls(context=context)
        if self.username:
            connection.login(self.username, self.password or "")
        return connection

    def _connection(self) -> smtplib.SMTP:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def send(self, message: Message) -> None:
        """Sends one message or raises TransientMailError / PermanentMailError."""
        # A kept-open connection may have been closed by the server while idle: that
        # attempt is repeated once on a fresh connection before anything is reported.
        for attempt in (1, 2):
            try:
                refused = self._connection().send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if attempt == 2:
                    raise TransientMailError(f"server disconnected: {exc}") from exc
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset()
                code, text = next(iter(exc.recipients.values()))
                raise _classify(code, text.decode(errors="replace")) from exc
            except smtplib.SMTPResponseException as exc:
                self._reset()
                error = exc.smtp_error.decode(errors="replace") if isinstance(
                    exc.smtp_error, bytes) else str(exc.smtp_error)
                raise _classify(exc.smtp_code, error) from exc
            except (OSError, socket.timeout, smtplib.SMTPException) as exc:
                self._drop()
                raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc
            if refused:
                code, text = next(iter(refused.values()))
                raise _classify(code, text.decode(errors="replace"))
            return

    def _reset(self) -> None:
        # After a refusal the session is mid-transaction; RSET makes it reusable.
        try:
            self._connection().rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def transport_from_config(config: dict) -> OutboxTransport | SMTPTransport:
    if config.get("SMTP_URL"):
        return SMTPTransport(config["SMTP_URL"])
    return OutboxTransport(config["OUTBOX_DIR"])


def current_transport() -> OutboxTransport | SMTPTransport:
    from flask import current_app

    return current_app.extensions["mail_transport"]
