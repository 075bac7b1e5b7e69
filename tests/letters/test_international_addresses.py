"""A supporter's address with an internationalised domain: letters and the receipt go out
through a real worker and a real SMTP server, the address in its ASCII form. One with a
non-ASCII name before the @ is refused at the form: nothing is written."""

from __future__ import annotations

import pytest


def counts(query) -> tuple:
    return query("SELECT (SELECT count(*) FROM supporters), (SELECT count(*) FROM actions), "
                 "(SELECT count(*) FROM letters)")[0]


@pytest.mark.worker
def test_letters_from_an_internationalised_domain_reach_the_offices(celery_worker, letter_page,
                                                                    send_letter, smtp_sink,
                                                                    query):
    slug, _ = letter_page()
    response = send_letter(slug, body="Please act, {target_title}.",
                           email="Hye-jin@대한민국.example.org")
    assert response.status_code == 303
    address = "hye-jin@xn--3e0bs9hfvinn1a.example.org"
    received = smtp_sink.wait_for(3)  # two letters and the supporter's receipt
    by_recipient = {mail.rcpt_tos[0]: mail.message for mail in received}
    assert set(by_recipient) == {"embassy@example.org", "mission@example.org", address}
    for office in ("embassy@example.org", "mission@example.org"):
        assert by_recipient[office]["Reply-To"] == f"Hye-jin Cho <{address}>"
    assert by_recipient[address]["To"] == f"Hye-jin Cho <{address}>"


def test_a_non_ascii_mailbox_name_writes_no_letter(letter_page, send_letter, query):
    slug, _ = letter_page()
    response = send_letter(slug, email="혜진@example.org")
    assert response.status_code == 400
    assert "letters other than a-z before the @" in response.get_data(as_text=True)
    assert counts(query) == (0, 0, 0)
