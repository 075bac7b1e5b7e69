"""Fuzzing the supporter pages' forms: the sign form and a letter's preview, send and
edit. Each form carries a valid token, so it is the fields that are tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, any_text, maybe
from tests.helpers import csrf_token

TRACKING = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
            "referrer")

signature = st.fixed_dictionaries({
    "first_name": maybe("Ji-woo"), "last_name": maybe("Park"),
    "email": maybe("ji-woo@example.org"), "postal_code": maybe("10001"),
    "country": maybe("US"),
}, optional={
    "opt_in": maybe("y"), "website": any_text,
    **{name: any_text for name in TRACKING},
})
letter = st.fixed_dictionaries({
    "town": maybe("Springfield"), "body": maybe("Please act, {target_title}."),
}, optional={"district": maybe("NY-12")})


@pytest.fixture
def petition(create_page) -> str:
    return create_page()


@pytest.fixture
def letter_slug(letter_page) -> str:
    slug, _ = letter_page()
    return slug


@FUZZ
@given(fields=signature)
def test_the_sign_form(client, petition, check, fields):
    token = csrf_token(client, petition)
    check(client.post, f"/a/{petition}", data={"csrf_token": token, **fields})


@FUZZ
@given(fields=signature, letter_fields=letter,
       step=st.sampled_from(["letter/preview", "letter/send", "letter/edit"]))
def test_the_letter_forms(client, letter_slug, check, fields, letter_fields, step):
    token = csrf_token(client, letter_slug)
    check(client.post, f"/a/{letter_slug}/{step}",
          data={"csrf_token": token, **fields, **letter_fields})


@FUZZ
@given(slug=any_text, query=st.dictionaries(st.sampled_from(TRACKING), any_text, max_size=3),
       method=st.sampled_from(["GET", "POST"]),
       tail=st.sampled_from(["", "/thanks", "/letter/preview", "/letter/send"]))
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
