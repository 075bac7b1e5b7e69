"""Validation and rendering helpers for text that comes from people."""

from __future__ import annotations

import re

import nh3
from email_validator import EmailNotValidError, validate_email
from markdown_it import MarkdownIt

# Anything that could break out of a header line or fake one.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")

# Anything shaped like an email address, for taking addresses out of text we store.
_EMAIL_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"'@]+@[^\s<>()\[\],;:\"'@]+")

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4",
    "code", "pre", "hr",
}


def normalise_email(email: str | None) -> str:
    """How every email is stored and looked up: the database holds us to lower case."""
    return (email or "").strip().lower()


def without_addresses(text: str) -> str:
    """`text` with every email address in it replaced by "<address>": a mail server's
    error quotes the addresses it refused, and those errors are stored and logged."""
    return _EMAIL_ADDRESS.sub("<address>", text)


class UnmailableAddress(ValueError):
    """The message is fit to show whoever typed the address."""


class NonAsciiMailbox(UnmailableAddress):
    def __init__(self) -> None:
        super().__init__("We can't yet send email to an address with letters other than a-z "
                         "before the @. Please give another address.")


def mailable_email(address: str) -> str:
    """The address as we store and send it: an internationalised domain in its ASCII
    (IDNA) form, which every mail server takes. UnmailableAddress for anything that is not
    an address, and for a non-ASCII mailbox name: that needs SMTPUTF8 from every server on
    the way, an office's server included when it is a letter's Reply-To."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise UnmailableAddress(str(error)) from None
    if checked.ascii_email is None:
        raise NonAsciiMailbox
    return checked.ascii_email


def email_as_stored(address: str) -> str:
    """Where to look an address up: as mailable_email stores it when it is a whole valid
    address (a staff member may type the domain either way), else as typed."""
    try:
        return normalise_email(mailable_email(normalise_email(address)))
    except UnmailableAddress:
        return normalise_email(address)


def has_control_characters(value: str) -> bool:
    return bool(CONTROL_CHARACTERS.search(value))


def render_markdown(source: str) -> str:
    """Markdown to HTML that is safe to put on a supporter page.

    Raw HTML is not rendered at all, and nh3 strips whatever else could run script or
    load a third-party asset (no <img>, no style attributes).
    """
    html = _markdown.render(source or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
