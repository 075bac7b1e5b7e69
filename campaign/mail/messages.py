"""Builds every outgoing email from a pair of templates under templates/emails/."""

from __future__ import annotations

import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr

from flask import current_app, render_template


def sender_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def stable_message_id(key: str, mail_from: str) -> str:
    """The same key always gives the same Message-ID, so a resend is recognisably the same
    message to the receiving server and to us."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{sender_domain(mail_from)}>"


def build_message(template: str, *, to: str | Address, subject: str, context: dict,
                  idempotency_key: str, reply_to: str | Address | None = None) -> EmailMessage:
    """Renders `emails/<template>.txt` and `.html` into one multipart message (Flask
    autoescapes only the `.html` one).

    Header values go through the email package's policy, which refuses CR/LF, so a
    name cannot add a header.
    """
    config = current_app.config
    context = {"org_name": config["ORG_NAME"], "org_postal_address": config["ORG_POSTAL_ADDRESS"],
               "base_url": config["BASE_URL"], **context}
    message = EmailMessage(policy=SMTP)
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = stable_message_id(idempotency_key, config["MAIL_FROM"])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template(f"emails/{template}.txt", **context))
    message.add_alternative(render_template(f"emails/{template}.html", **context),
                            subtype="html")
    return message

