"""Fuzzing the supporter pages' forms: the sign form and a letter's preview, send and
edit. Each form carries a valid token, so it is the fields that are tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, any_text, fuzzed
from tests.helpers import csrf_token

TRACKING = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
            "referrer")

SIGNATURE = {"first_name": "Ji-woo", "last_name": "Park", "email": "ji-woo@example.org",
             "postal_code": "10001", "country": "US", "opt_in": "y", "website": "",
             **dict.fromkeys(TRACKING, "")}
LETTER = {**SIGNATURE, "town": "Springfield", "body": "Please act, {target_title}.",
          "district": ""}


@pytest.fixture
def petition(create_page) -> str:
    return create_page()


@pytest.fixture
def letter_slug(letter_page) -> str:
    slug, _ = letter_page()
    return slug


@pytest.mark.parametrize("name", [*SIGNATURE, None])
def test_the_sign_form(client, petition, check, name):
    token = csrf_token(client, petition)
    budget, forms = fuzzed(SIGNATURE, name)

    @budget
    @given(fields=forms)
    def sign(fields):
        check(client.post, f"/a/{petition}", data={"csrf_token": token, **fields})

    sign()


@pytest.mark.parametrize("name", [*LETTER, None])
def test_the_letter_forms(client, letter_slug, check, name):
    token = csrf_token(client, letter_slug)
    budget, forms = fuzzed(LETTER, name)

    @budget
    @given(fields=forms, step=st.sampled_from(["letter/preview", "letter/send",
                                               "letter/edit"]))
    def write(fields, step):
        check(client.post, f"/a/{letter_slug}/{step}", data={"csrf_token": token, **fields})

    write()


@FUZZ
@given(slug=any_text, query=st.dictionaries(st.sampled_from(TRACKING), any_text, max_size=3),
       method=st.sampled_from(["GET", "POST"]),
       tail=st.sampled_from(["", "/thanks", "/letter/preview", "/letter/send",
                             "/letter/sent"]))
def test_page_addresses_and_their_query_strings(client, petition, check, slug, query, method,
                                                tail):
    from urllib.parse import quote

    for path in (f"/a/{quote(slug, safe='')}{tail}", f"/a/{petition}{tail}"):
        check(client.open, path, method=method, query_string=query)


@FUZZ
@given(token=any_text)
def test_status_page_tokens(client, check, token):
    from urllib.parse import quote

    check(client.get, f"/letters/{quote(token, safe='')}")


@FUZZ
@given(token=any_text, method=st.sampled_from(["GET", "POST"]))
def test_opt_in_confirmation_tokens(client, petition, check, token, method):
    from urllib.parse import quote

    form_token = csrf_token(client, petition)
    check(client.open, f"/confirm/{quote(token, safe='')}", method=method,
          data={"csrf_token": form_token})
