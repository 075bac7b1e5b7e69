"""Errors described for people: staff pages, drain states and logs."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")


def describe_error(exc: BaseException) -> str:
    """What went wrong: the error's kind and first line, with email addresses taken out (a
    mail server's or the database's message may quote a supporter's). At most 500
    characters, as error columns hold."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {scrub_addresses(first_line)}"[:500]


def scrub_addresses(text: str) -> str:
    return _EMAIL.sub("[address]", text)
