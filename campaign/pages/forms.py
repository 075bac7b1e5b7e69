from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import request
from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from campaign.common.input import CheckedForm
from campaign.common.text import (
    NonAsciiMailbox,
    UnmailableAddress,
    has_control_characters,
    mailable_email,
)
from campaign.supporters.services import UTM_KEYS

NAME_MAX = 100
SOURCE_PATTERN = re.compile(r"[^a-z0-9_.-]")


def mailable_email_field(form: CheckedForm, field: EmailField) -> None:
    """The address as we store and send it (see mailable_email), or a message."""
    try:
        field.data = mailable_email(field.data)
    except NonAsciiMailbox as error:
        raise ValidationError(str(error)) from None
    except UnmailableAddress:
        raise ValidationError("Please check your email address: it doesn't look complete."
                              ) from None


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def clean_source(value: str | None) -> str:
    """`?source=` is chosen by whoever wrote the link; keep it short and plain."""
    return SOURCE_PATTERN.sub("", (value or "").lower())[:40]


def referrer_origin(url: str | None) -> str:
    """Only the site a supporter came from, never the page: a full address can say which
    forum thread or private group they were reading."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    origin = f"{parts.scheme}://{parts.hostname}"
    return "" if has_control_characters(origin) else origin[:200]


def clip(value: str | None, limit: int) -> str:
    # Tracking fields come from URLs we do not control: shorten, never reject the signature.
    value = value or ""
    return "" if has_control_characters(value) else value[:limit]


TRACKING_FIELDS = ("source", *(f"utm_{key}" for key in UTM_KEYS), "referrer")
# What a supporter page's form carries besides what the supporter types: the token of
# campaign.public_forms, and where the supporter came from, so the signature keeps it.
HIDDEN_FIELDS = ("csrf_token", *TRACKING_FIELDS)


def tracking_values(values: Mapping[str, str], referrer: str | None) -> dict[str, str]:
    """The tracking fields from `values` (a page's query string, a posted form), cleaned:
    shortened or emptied, never a reason to refuse."""
    tracking = {f"utm_{key}": clip(values.get(f"utm_{key}"), 255) for key in UTM_KEYS}
    tracking["source"] = clean_source(values.get("source"))
    tracking["referrer"] = referrer_origin(referrer)
    return tracking


def posted_tracking() -> dict[str, str]:
    """The tracking fields of the posted form, cleaned."""
    return tracking_values(request.form, request.form.get("referrer"))


def posted_hidden_values() -> dict[str, str]:
    """The hidden fields as posted, to carry them into the page that answers the POST (a
    form with errors, a letter's preview)."""
    return {"csrf_token": request.form.get("csrf_token", ""), **posted_tracking()}


class SignForm(CheckedForm):
    """What the supporter types. The hidden fields (HIDDEN_FIELDS) are not fields here:
    there is nothing in them to check, only to clean, and binding eight more fields cost
    a tenth of a signature's CPU (profiled)."""

    class Meta:
        # Supporter pages carry campaign.public_forms' token instead of the session-bound
        # one; the views check it before the form is read.
        csrf = False

    first_name = StringField(
        "First name",
        filters=[strip],
        validators=[DataRequired("Please give your first name."),
                    Length(max=NAME_MAX, message="Please keep this under 100 characters.")])
    last_name = StringField(
        "Last name",
        filters=[strip],
        validators=[DataRequired("Please give your last name."),
                    Length(max=NAME_MAX, message="Please keep this under 100 characters.")])
    email = EmailField(
        "Email",
        filters=[strip],
        validators=[DataRequired("Please give your email address."),
                    Length(max=254, message="That email address is too long."),
                    mailable_email_field])
    postal_code = StringField(
        "ZIP or postal code",
        filters=[strip],
        validators=[Optional(),
                    Length(max=12, message="Please keep this under 12 characters."),
                    Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]*$",
                           message="Please use only letters, digits, spaces and hyphens.")])
    country = StringField(
        "Country (two-letter code)",
        filters=[strip],
        default="US",
        validators=[Optional(),
                    Regexp(r"^[A-Za-z]{2}$", message="Please use a two-letter code such as US.")])
    # Never pre-ticked: consent is something the supporter does.
    opt_in = BooleanField("Keep me informed about this campaign by email.", default=False)
    # Hidden from people by CSS; a bot filling every field fills this one too.
    website = StringField("Leave this empty", validators=[Optional()])

    @property
    def is_bot(self) -> bool:
        return bool(self.website.data)
