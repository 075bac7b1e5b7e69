"""Builds every outgoing email from a pair of templates under templates/emails/."""

from __future__ import annotations

import hashlib
import re
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr

from flask import current_app, render_template

# Header values come from supporters and staff: nothing that could end a header line.
_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]\\]+@[^\s@<>(),;:\"\[\]\\]+\.[^\s@<>(),;:\"\[\]\\]+")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the raw message, and safe for long lines


def sender_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def stable_message_id(key: str, mail_from: str) -> str:
    """The same key always gives the same Message-ID, so a resend is recognisably the same
    message to the receiving server and to us."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{sender_domain(mail_from)}>"


# These errors end up stored as a letter's or a thank-you's failure reason: they never
# quote the value, which is a supporter's name or address.


def _header_text(value: str) -> str:
    if _NOT_IN_A_HEADER.search(value):
        raise ValueError("a header may not contain line breaks or control characters")
    return value


def mailbox(display_name: str, address: str) -> str:
    """`Name <address>` for a header, the name RFC 2047-encoded when it isn't ASCII.
    Raises ValueError for a name or an address no header could carry."""
    _header_text(display_name)
    if not _ADDRESS.fullmatch(_header_text(address)) or not address.isascii():
        raise ValueError("not an email address we can send to")
    return formataddr((display_name, address), charset="utf-8")


def build_message(template: str, *, to: str, subject: str, context: dict,
                  idempotency_key: str, reply_to: str | None = None) -> Message:
    """Renders `emails/<template>.txt` and `.html` into one multipart message (Flask
    autoescapes only the `.html` one). `to` and `reply_to` come from `mailbox()`.

    Built with the email package's compat32 classes: its default policy parses every
    header it is given, which cost ten times as much per letter (profiled). That parse
    was also what refused line breaks in header values, so they are refused here.
    """
    config = current_app.config
    context = {"org_name": config["ORG_NAME"], "org_postal_address": config["ORG_POSTAL_ADDRESS"],
               "base_url": config["BASE_URL"], **context}
    message = MIMEMultipart("alternative")
    message["From"] = mailbox(*parseaddr(config["MAIL_FROM"]))
    message["To"] = _header_text(to)
    if reply_to is not None:
        message["Reply-To"] = _header_text(reply_to)
    message["Subject"] = Header(_header_text(subject), "utf-8")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = stable_message_id(idempotency_key, config["MAIL_FROM"])
    message["Auto-Submitted"] = "auto-generated"
    for subtype in ("plain", "html"):
        text = render_template(f"emails/{template}.{'txt' if subtype == 'plain' else 'html'}",
                               **context)
        message.attach(MIMEText(text, subtype, _UTF8_QP))
    return message
