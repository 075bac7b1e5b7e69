"""Fuzzing the giving forms (tests/fuzz's rules): the amount step, the start call's
body and the staff's giving settings never answer 5xx, and a refusal writes nothing but
the count of refused attempts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.donations.giving import donation_page, open_card_step
from tests.fuzz.conftest import (  # noqa: F401 - fixtures
    FUZZ,
    answer_errors_as_a_server_would,
    any_text,
    check,
    create_staff,
    fuzzed,
    log_in,
    row_counts,
    staff_client,
)
from tests.helpers import csrf_token
from tests.staff.conftest import page_token

GIFT = {"amount": "other", "custom_amount": "40", "currency": "usd", "frequency": "monthly",
        "cover_fee": "y", "tribute_kind": "honour", "tribute_name": "Grandmother Lee",
        "tribute_notify_email": "lee@example.org", "first_name": "Min-ji",
        "last_name": "Cho", "email": "min-ji@example.org", "website": "", "source": "",
        "utm_source": "", "referrer": ""}
SETTINGS = {"currency": "usd", "suggested": "10, 25, 50", "default_amount": "25",
            "minimum_amount": "1", "maximum_amount": "10000", "offer_one_time": "y",
            "offer_monthly": "y", "default_frequency": "one_time", "fee_cover_percent": "3",
            "tribute_enabled": "y", "goal_amount": "50000"}


def counted_blocks(table: str) -> bool:
    return table == "gift_block_counts"


@pytest.fixture
def slug(app, create_page, monkeypatch):
    # The limits are tested in test_give.py; here they would stop the fuzzing.
    monkeypatch.setitem(app.config, "GIFT_RATE_LIMIT", "100000/minute")
    monkeypatch.setitem(app.config, "GIFT_ATTEMPTS_PER_EMAIL_HOUR", 100000)
    return donation_page(app, create_page)


@pytest.mark.parametrize("name", [*GIFT, None])
def test_the_amount_step(client, slug, check, name):  # noqa: F811
    token = csrf_token(client, slug)
    budget, forms = fuzzed(GIFT, name)

    @budget
    @given(fields=forms)
    def give(fields):
        check(client.post, f"/a/{slug}/give", data={"csrf_token": token, **fields},
              may_record=counted_blocks)

    give()


def test_the_start_call_body(client, slug, check):  # noqa: F811
    token, csrf = open_card_step(client, slug)

    @FUZZ
    @given(body=st.one_of(st.fixed_dictionaries({"altcha": any_text}),
                          st.dictionaries(any_text, any_text, max_size=3),
                          st.lists(any_text, max_size=2), any_text))
    def start(body):
        check(client.post, f"/give/{token}/start", json=body,
              headers={"X-CSRF-Token": csrf}, may_record=counted_blocks)

    start()


@pytest.mark.parametrize("name", [*SETTINGS, None])
def test_the_giving_settings(staff_client, app, create_page, check, name):  # noqa: F811
    slug = create_page(kind="donation", status="draft")
    url = f"/staff/pages/{slug}/giving"
    token = page_token(staff_client, url)
    budget, forms = fuzzed(SETTINGS, name)

    @budget
    @given(fields=forms)
    def save(fields):
        check(staff_client.post, url, data={"csrf_token": token, **fields})

    save()
