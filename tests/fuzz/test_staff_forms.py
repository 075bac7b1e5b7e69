"""Fuzzing the staff forms and their URL parameters: sign-in, search, the page editor,
letter settings, target-list uploads, batches, erasure, the account password, the
reports, the money lists and a refund. Forms carry a valid CSRF token, so it is the
fields that are tested."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import (
    EDGE_VALUES,
    FUZZ,
    any_text,
    fuzzed,
    maybe,
    records_staff_refusals,
)
from tests.staff.conftest import PASSWORD, page_token
from tests.staff.test_batches import batch_id_of, fallback_letters

ids = st.one_of(st.integers(min_value=-2**70, max_value=2**70).map(str),
                st.sampled_from(EDGE_VALUES))


@pytest.fixture
def staff_account(create_staff) -> int:
    return create_staff()


@FUZZ
@given(email=maybe("ana.staff@example.org"), password=maybe(PASSWORD),
       next_url=st.one_of(st.none(), any_text))
def test_sign_in(app, staff_account, check, email, password, next_url):
    client = app.test_client()  # a new browser each time: a success signs it in
    token = page_token(client, "/staff/login")
    check(client.post, "/staff/login", data={"csrf_token": token, "email": email,
                                             "password": password},
          query_string={"next": next_url} if next_url is not None else None,
          may_record=records_staff_refusals)


@pytest.fixture
def a_supporter(create_page, create_signature) -> int:
    return create_signature(create_page())


@FUZZ
@given(query=any_text, page=st.one_of(st.none(), ids))
def test_supporter_search(staff_client, a_supporter, check, query, page):
    args = {"q": query, **({"page": page} if page is not None else {})}
    check(staff_client.get, "/staff/supporters/", query_string=args)


PAGE_FORM = {
    "campaign_id": "None", "new_campaign": "Labour exports", "title": "Stop the trade",
    "slug": "", "kind": "petition", "status": "draft", "summary": "Sign to stop it.",
    "body_markdown": "The regime **keeps** the wages.", "goal": "500",
    "closed_message": "Closed.", "cards-0-claim": "A claim.",
    "cards-0-source_title": "A source", "cards-0-source_url": "https://example.org/s",
    "cards-0-order": "1", "cards-0-remove": "", "cards-1-claim": "",
    "cards-99999999999999999999-claim": "", "cards-x-claim": "",
}


@pytest.fixture
def own_page(create_page) -> str:
    return create_page(status="draft")


@pytest.mark.parametrize("name", [*PAGE_FORM, None])
def test_the_page_editor(staff_client, own_page, check, name):
    token = page_token(staff_client, "/staff/pages/new")
    budget, forms = fuzzed(PAGE_FORM, name)

    @budget
    @given(fields=forms)
    def save(fields):
        for url in (f"/staff/pages/{own_page}/edit", "/staff/pages/new"):
            check(staff_client.post, url, data={"csrf_token": token, **fields})

    save()


SETTINGS_FORM = {
    "subject": "Please act", "body_template": "Dear office, please act.",
    "max_length": "5000", "target_list_id": "None", "target_hourly_cap": "60",
    "over_cap": "wait", "targets_house": "y", "targets_senate": "", "is_editable": "y",
}


@pytest.fixture
def letter_slug(letter_page) -> str:
    slug, _ = letter_page()
    return slug


@pytest.mark.parametrize("name", [*SETTINGS_FORM, None])
def test_letter_settings(staff_client, letter_slug, check, name):
    url = f"/staff/pages/{letter_slug}/letters"
    token = page_token(staff_client, url)
    budget, forms = fuzzed(SETTINGS_FORM, name)

    @budget
    @given(fields=forms)
    def save(fields):
        check(staff_client.post, url, data={"csrf_token": token, **fields})

    save()


csv_text = st.one_of(
    st.text(max_size=400),
    st.lists(st.lists(any_text, min_size=1, max_size=6).map(",".join), max_size=5)
    .map(lambda rows: "\n".join(["name,title,email,state,district", *rows])))
csv_bytes = st.one_of(csv_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
                      st.binary(max_size=400))


@FUZZ
@given(name=maybe("City halls"), content=csv_bytes, filename=maybe("list.csv"))
def test_target_list_upload(staff_client, check, name, content, filename):
    token = page_token(staff_client, "/staff/target-lists")
    check(staff_client.post, "/staff/target-lists",
          data={"csrf_token": token, "name": name, "file": (io.BytesIO(content), filename)},
          content_type="multipart/form-data")


@pytest.fixture
def batch_and_supporter(app, letter_page, write_letters, query) -> tuple[int, int]:
    fallback_letters(app, letter_page, write_letters)
    [(supporter_id,)] = query("SELECT id FROM supporters ORDER BY id LIMIT 1")
    return batch_id_of(query), supporter_id


@FUZZ
@given(note=any_text, confirm=any_text, batch=st.one_of(st.none(), ids),
       supporter=st.one_of(st.none(), ids))
def test_batches_and_erasure(staff_client, batch_and_supporter, check, note, confirm, batch,
                             supporter):
    batch_id, supporter_id = batch_and_supporter
    token = page_token(staff_client, "/staff/account")
    batch_path = quote(batch if batch is not None else str(batch_id), safe="")
    supporter_path = quote(supporter if supporter is not None else str(supporter_id), safe="")
    for path in (f"/staff/batches/{batch_path}.csv", f"/staff/batches/{batch_path}/print",
                 f"/staff/supporters/{supporter_path}"):
        check(staff_client.get, path)
    check(staff_client.post, f"/staff/batches/{batch_path}/delivered",
          data={"csrf_token": token, "note": note})
    check(staff_client.post, f"/staff/supporters/{supporter_path}/erase",
          data={"csrf_token": token, "confirm_email": confirm})


@FUZZ
@given(current=maybe(PASSWORD), new=any_text, again=st.one_of(st.none(), any_text))
def test_account_password(staff_client, check, current, new, again):
    token = page_token(staff_client, "/staff/account")
    response = check(staff_client.post, "/staff/account", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "confirm_password": new if again is None else again},
        may_record=records_staff_refusals)
    # 413: past the 64 KiB form limit; 429: throttled
    assert response.status_code in (303, 400, 413, 429)
    if response.status_code == 303:  # a good new password: put the old one back
        token = page_token(staff_client, "/staff/account")
        staff_client.post("/staff/account", data={
            "csrf_token": token, "current_password": new, "new_password": PASSWORD,
            "confirm_password": PASSWORD})


@FUZZ
@given(slug=any_text, page=st.sampled_from(["edit", "preview", "report", "report.csv",
                                            "letters"]))
def test_staff_page_addresses(staff_client, own_page, check, slug, page):
    check(staff_client.get, f"/staff/pages/{quote(slug, safe='')}/{page}")
    check(staff_client.get, f"/staff/pages/{own_page}/{page}")


@pytest.fixture
def a_donation(app) -> int:
    """A ledger row whose PaymentIntent the Stripe server does not know: a refund that
    passes every check is refused by Stripe (a failed refund row), and no money moves."""
    from campaign.donations.models import Donation
    from campaign.extensions import db
    from tests.donations.staff_helpers import NOON

    with app.app_context():
        donation = Donation(stripe_payment_intent_id="pi_fuzz_unknown", frequency="one_time",
                            amount=5000, currency="usd", charged_at=NOON)
        db.session.add(donation)
        db.session.commit()
        return donation.id


REFUND_FORM = {"amount": "10", "reason": "Asked by phone", "refunds_seen": "0"}


@pytest.mark.parametrize("name", [*REFUND_FORM, None])
def test_a_refund(staff_client, a_donation, check, name):
    url = f"/staff/donations/{a_donation}"
    token = page_token(staff_client, url)
    budget, forms = fuzzed(REFUND_FORM, name)

    @budget
    @given(fields=forms)
    def refund(fields):
        response = check(staff_client.post, f"{url}/refund",
                         data={"csrf_token": token, **fields})
        assert response.status_code in (303, 400, 409, 413)

    refund()


@FUZZ
@given(page=st.one_of(st.none(), ids), date_from=st.one_of(st.none(), any_text),
       date_to=st.one_of(st.none(), any_text), frequency=st.one_of(st.none(), any_text),
       status=st.one_of(st.none(), any_text), p=st.one_of(st.none(), ids),
       donation=any_text)
def test_the_money_lists_and_addresses(staff_client, a_donation, check, page, date_from,
                                       date_to, frequency, status, p, donation):
    args = {key: value for key, value in {
        "page": page, "date_from": date_from, "date_to": date_to, "frequency": frequency,
        "status": status, "p": p}.items() if value is not None}
    for path in ("/staff/donations", "/staff/donations.csv"):
        check(staff_client.get, path, query_string=args)
    check(staff_client.get, "/staff/monthly-gifts",
          query_string={"state": status or "", "p": p or "", "gift": page or ""})
    check(staff_client.get, f"/staff/donations/{quote(donation, safe='')}")
