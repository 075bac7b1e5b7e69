"""Errors described for people: staff pages, drain states and logs."""

from __future__ import annotations

from campaign.common.text import without_addresses


def describe_error(exc: BaseException) -> str:
    """What went wrong: the error's kind and first line, with email addresses taken out (a
    mail server's or the database's message may quote a supporter's). At most 500
    characters, as error columns hold."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {without_addresses(first_line)}"[:500]
