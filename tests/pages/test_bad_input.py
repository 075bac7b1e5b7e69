"""Bad input on supporter pages is refused with a message, never a 500; an email address
we accept is one we can mail."""

from __future__ import annotations

import pytest

from campaign.common.input import SINGLE_LINE_MESSAGE
from tests.helpers import csrf_token, valid_signature


@pytest.fixture(autouse=True)
def answer_errors_as_a_server_would(app):
    """The test client re-raises a view's exception; a server answers 500."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield
    app.config["PROPAGATE_EXCEPTIONS"] = None


def counts(query) -> tuple:
    return query("SELECT (SELECT count(*) FROM supporters), (SELECT count(*) FROM actions), "
                 "(SELECT count(*) FROM consents)")[0]


@pytest.mark.parametrize("path", ["/a/%00", "/a/page%00", "/a/%00/thanks", "/a/x%1fy",
                                  "/a/%7f/letter/preview", "/%00", "/letters/%00"])
def test_a_control_character_in_the_address_is_a_400_that_says_so(client, path):
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 400
        assert "control characters" in response.get_data(as_text=True)


def test_a_control_character_in_the_query_string_is_a_400(client, create_page):
    slug = create_page()
    assert client.get(f"/a/{slug}?utm_source=%00").status_code == 400
    assert client.get(f"/a/{slug}?source=a%0d%0ab").status_code == 400
    assert client.get(f"/a/{slug}?utm_source=newsletter").status_code == 200


@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "postal_code",
                                   "country"])
@pytest.mark.parametrize("character", ["\x00", "\x01", "\t", "\x7f"])
def test_a_control_character_in_the_sign_form_is_a_message(client, create_page, sign, query,
                                                          field, character):
    slug = create_page()
    response = sign(slug, **{field: valid_signature()[field] + character + "x"})
    assert response.status_code == 400
    assert SINGLE_LINE_MESSAGE in response.get_data(as_text=True)
    assert counts(query) == (0, 0, 0)


def test_a_nul_in_the_hidden_trap_field_writes_nothing(client, create_page, sign, query):
    slug = create_page()
    assert sign(slug, website="\x00").status_code == 400
    assert counts(query) == (0, 0, 0)


def test_a_nul_in_the_hidden_tracking_fields_is_dropped_not_stored(client, create_page, query):
    slug = create_page()
    data = {"csrf_token": csrf_token(client, slug), **valid_signature(),
            "utm_source": "news\x00letter", "source": "\x00", "referrer": "https://a\x00.org/"}
    assert client.post(f"/a/{slug}", data=data).status_code == 303
    assert query("SELECT utm_source, source, referrer FROM actions") == [("", "", "")]


def test_a_non_ascii_mailbox_name_is_refused_with_a_message(client, create_page, sign, query):
    slug = create_page()
    response = sign(slug, email="지우@example.org")
    assert response.status_code == 400
    assert "letters other than a-z before the @" in response.get_data(as_text=True)
    assert counts(query) == (0, 0, 0)


def test_an_internationalised_domain_is_stored_and_mailed_in_its_ascii_form(
        app, create_page, sign, query, smtp_sink):
    from tests.supporters.test_thank_you import run_task_here

    slug = create_page()
    assert sign(slug, email="Ji-Woo@한국.Example.org").status_code == 303
    assert query("SELECT email FROM supporters") == [("ji-woo@xn--3e0b707e.example.org",)]
    # The same mailbox typed in its ASCII form is the same supporter, who signed once.
    assert sign(slug, email="ji-woo@XN--3E0B707E.example.org").status_code < 500
    assert counts(query) == (1, 1, 0)

    assert run_task_here(app, "supporters.send_thank_yous").result == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ["ji-woo@xn--3e0b707e.example.org"]
    assert mail.message["To"] == "Ji-woo Park <ji-woo@xn--3e0b707e.example.org>"
    assert query("SELECT thank_you_status FROM actions") == [("sent",)]
