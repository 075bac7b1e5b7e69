"""Merge fields, salutations and the checks on what a supporter writes."""

from __future__ import annotations

import pytest

from campaign.letters.compose import (
    LetterError,
    Writer,
    body_fingerprint,
    check_subject,
    clean_body,
    compose,
    is_personalised,
    salutation,
)
from campaign.targets.models import Target

WRITER = Writer(first_name="Hye-jin", last_name="Cho", town="Springfield", postal_code="62701")


def target(kind: str = "custom", name: str = "Jane Roe", title: str = "Ambassador") -> Target:
    return Target(kind=kind, name=name, title=title)


def test_letter_gets_salutation_merge_fields_and_sign_off():
    letter = compose("From {full_name} of {town} to {target_title} {target_name}.", WRITER,
                     target())
    assert letter == ("Dear Jane Roe,\n\n"
                      "From Hye-jin Cho of Springfield to Ambassador Jane Roe.\n\n"
                      "Sincerely,\nHye-jin Cho\nSpringfield 62701\n")


@pytest.mark.parametrize(("kind", "title", "expected"), [
    ("us_senate", "Senator for WA", "Dear Senator Maria Cantwell,"),
    ("us_house", "Representative for NY-12", "Dear Representative Maria Cantwell,"),
    ("us_house", "Delegate for DC", "Dear Delegate Maria Cantwell,"),
    ("us_house", "Resident Commissioner for PR", "Dear Resident Commissioner Maria Cantwell,"),
    ("custom", "Embassy", "Dear Maria Cantwell,"),
])
def test_salutation_follows_the_office(kind, title, expected):
    assert salutation(target(kind, "Maria Cantwell", title)) == expected


def test_a_value_that_looks_like_a_merge_field_is_not_expanded():
    sneaky = Writer(first_name="{target_name}", last_name="X")
    assert "{target_name} X" in compose("{full_name}", sneaky, target())


@pytest.mark.parametrize(("body", "message"), [
    ("", "empty"),
    ("x" * 501, "501 characters long"),
    ("Hello\x00there", "characters we can't send"),
    ("Hello \x1b[31m", "characters we can't send"),
    ("Dear {senator}", "{senator}"),
])
def test_bad_letters_are_refused_with_a_clear_message(body, message):
    with pytest.raises(LetterError, match=message.replace("{", r"\{").replace("}", r"\}")):
        clean_body(body, max_length=500)


def test_line_endings_are_made_uniform():
    assert clean_body(" One\r\nTwo\rThree \n", 500) == "One\nTwo\nThree"


@pytest.mark.parametrize("subject", ["", "Line\r\nBcc: victim@example.org", "x" * 201])
def test_subject_must_be_one_short_line(subject):
    with pytest.raises(LetterError):
        check_subject(subject)


def test_personalisation_ignores_spacing_and_case():
    template = "Please enforce the sanctions."
    assert not is_personalised("please  enforce\nthe sanctions.", template)
    assert is_personalised("Please enforce the sanctions now.", template)
    assert body_fingerprint("A  b") == body_fingerprint("a b")
