"""Turning a page's letter into one letter per target: merge fields, salutation, sign-off."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from campaign.common.text import has_control_characters
from campaign.targets.models import Target, TargetKind

MERGE_FIELDS = ("first_name", "last_name", "full_name", "town", "postal_code",
                "target_name", "target_title")
MERGE_FIELD = re.compile(r"\{([a-z_]+)\}")
# Letters are text: tabs and newlines are fine, other control characters are not.
BAD_LETTER_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class LetterError(ValueError):
    """The message is fit to show the supporter (or the staff member editing the page)."""


@dataclass(frozen=True)
class Writer:
    first_name: str
    last_name: str
    town: str = ""
    postal_code: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def unknown_merge_fields(template: str) -> list[str]:
    return sorted({name for name in MERGE_FIELD.findall(template) if name not in MERGE_FIELDS})


def check_subject(subject: str) -> str:
    subject = subject.strip()
    if not subject:
        raise LetterError("The letter needs a subject.")
    if has_control_characters(subject) or len(subject) > 200:
        raise LetterError("The subject must be one line of at most 200 characters.")
    return subject


def clean_body(body: str, max_length: int) -> str:
    """The supporter's letter text with line endings made uniform; LetterError if it can't
    be sent as written."""
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise LetterError("Your letter is empty. Please write a few words.")
    if len(body) > max_length:
        raise LetterError(f"Your letter is {len(body):,} characters long; please keep it "
                          f"under {max_length:,}.")
    if BAD_LETTER_CHARACTERS.search(body):
        raise LetterError("Your letter contains characters we can't send. Please retype it.")
    unknown = unknown_merge_fields(body)
    if unknown:
        raise LetterError("Your letter has placeholders we don't recognise: "
                          + ", ".join("{" + name + "}" for name in unknown))
    return body


def honorific(target: Target) -> str:
    if target.kind == TargetKind.US_SENATE.value:
        return "Senator"
    if target.kind == TargetKind.US_HOUSE.value:
        for title in ("Resident Commissioner", "Delegate"):
            if target.title.startswith(title):
                return title
        return "Representative"
    return ""


def salutation(target: Target) -> str:
    return f"Dear {' '.join(filter(None, (honorific(target), target.name)))},"


def sign_off(writer: Writer) -> str:
    place = " ".join(filter(None, (writer.town, writer.postal_code)))
    return "\n".join(filter(None, ("Sincerely,", writer.full_name, place)))


def merge(text: str, writer: Writer, target: Target) -> str:
    values = {"first_name": writer.first_name, "last_name": writer.last_name,
              "full_name": writer.full_name, "town": writer.town,
              "postal_code": writer.postal_code, "target_name": target.name,
              "target_title": target.title}
    # One pass, so a value that itself looks like {a_field} is never expanded again.
    return MERGE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def compose(body: str, writer: Writer, target: Target) -> str:
    return f"{salutation(target)}\n\n{merge(body, writer, target)}\n\n{sign_off(writer)}\n"


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def body_fingerprint(body: str) -> str:
    """Equal for letters whose words are the same, however they were spaced or cased."""
    return hashlib.sha256(_normalised(body).encode()).hexdigest()


def is_personalised(body: str, template: str) -> bool:
    return _normalised(body) != _normalised(template)
