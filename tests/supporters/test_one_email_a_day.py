"""Mail that anyone can make us send: the notice of a second signature, and at most one
thank-you or notice a day per address across the site."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from campaign.extensions import db
from tests.helpers import claim_while_another_holds_its_claim, wait_until
from tests.supporters.test_thank_you import run_task_here


def as_if_a_day_passed(app, *, notices: bool = False) -> None:
    """The address's day is over (and, with `notices`, each page's day for notices)."""
    with app.app_context():
        db.session.execute(text(
            "UPDATE supporters SET last_emailed_at = last_emailed_at - interval '25 hours'"))
        if notices:
            db.session.execute(text("UPDATE actions SET notice_requested_at = "
                                    "notice_requested_at - interval '25 hours'"))
        db.session.commit()


def send_due(app) -> int:
    return run_task_here(app, "supporters.send_thank_yous").result


def test_the_owner_learns_of_a_second_signature_by_email_once_a_day_per_page(
        app, create_page, sign, smtp_sink, query):
    slug = create_page(title="Stop forced repatriation")
    assert sign(slug).status_code == 303
    assert sign(slug, email="JI-WOO@example.org").status_code == 303
    assert send_due(app) == 1  # the thank-you; no notice while it was still on its way
    [thanks] = smtp_sink.wait_for(1)
    assert thanks.message["Subject"] == "Thank you for signing: Stop forced repatriation"

    as_if_a_day_passed(app)
    assert sign(slug, first_name="Someone", last_name="Else").status_code == 303
    assert send_due(app) == 1
    notice = smtp_sink.wait_for(2)[1]
    assert notice.rcpt_tos == ["ji-woo@example.org"]
    assert notice.message["Subject"] == "You had already taken part: Stop forced repatriation"
    body = notice.message.get_body(("plain",)).get_content()
    [(signed_on,)] = query("SELECT created_at FROM actions")
    assert f"You had already taken part on {signed_on.strftime('%d %B %Y')}" in body
    assert "nothing was\nchanged" in body.replace("\r\n", "\n")
    assert "Dear Ji-woo," in body  # what the second form said changed nothing
    assert query("SELECT first_name FROM supporters") == [("Ji-woo",)]
    assert query("SELECT count(*) FROM actions") == [(1,)]

    # More tries that day: no second notice for this page, even once the address may
    # have an email again.
    as_if_a_day_passed(app)
    for _ in range(3):
        assert sign(slug).status_code == 303
    assert send_due(app) == 0
    time.sleep(0.3)
    assert len(smtp_sink.received) == 2

    as_if_a_day_passed(app, notices=True)
    assert sign(slug).status_code == 303
    assert send_due(app) == 1
    third = smtp_sink.wait_for(3)[2]
    assert third.message["Subject"] == notice.message["Subject"]
    assert third.message["Message-ID"] != notice.message["Message-ID"]


def test_a_notice_waits_for_the_address_s_day_and_is_then_skipped(app, create_page, sign,
                                                                  smtp_sink, query):
    first, second = create_page(), create_page()
    sign(first)
    assert send_due(app) == 1
    sign(first)  # the notice is asked for, but the address had its email of the day
    assert send_due(app) == 0
    assert query("SELECT thank_you_status, thank_you_error FROM actions") == [
        ("skipped", "not sent: one email per address per day")]
    sign(second)
    assert send_due(app) == 0
    assert len(smtp_sink.received) == 1


def test_one_thank_you_a_day_per_address_across_pages(app, create_page, create_signature,
                                                      smtp_sink, query):
    pages = [create_page(), create_page(), create_page()]
    first = create_signature(pages[0])
    create_signature(pages[1], email="JI-WOO@example.org")
    create_signature(pages[2], email="someone-else@example.org")
    assert send_due(app) == 2
    received = smtp_sink.wait_for(2)
    assert sorted(mail.rcpt_tos[0] for mail in received) == [
        "ji-woo@example.org", "someone-else@example.org"]
    assert query("SELECT id, thank_you_status, thank_you_error FROM actions "
                 "WHERE supporter_id = (SELECT id FROM supporters "
                 "WHERE email = 'ji-woo@example.org') ORDER BY id") == [
        (first, "sent", ""), (first + 1, "skipped", "not sent: one email per address per day")]

    # The next day the address may have one again.
    as_if_a_day_passed(app)
    create_signature(create_page())
    assert send_due(app) == 1


def test_a_retry_is_the_same_email_and_still_goes(app, create_page, create_signature,
                                                  smtp_sink, query):
    slug = create_page()
    create_signature(slug)
    smtp_sink.reply_next("451 4.3.0 Mailbox busy, try later")
    assert send_due(app) == 0
    with app.app_context():
        db.session.execute(text("UPDATE actions SET thank_you_next_attempt_at = now()"))
        db.session.commit()
    assert send_due(app) == 1
    assert query("SELECT thank_you_status, thank_you_attempts FROM actions") == [("sent", 2)]


def test_two_workers_never_both_choose_one_address(app, create_page, create_signature,
                                                   query):
    from campaign.supporters.services import claim_thank_yous

    first = create_signature(create_page())
    second = create_signature(create_page())
    # The first worker claims one thank-you and holds its claim open; the second finds
    # the address taken and leaves its thank-you for later.
    held, other = claim_while_another_holds_its_claim(app, claim_thank_yous, 1, 10)
    assert (held, other) == ([first], [])
    assert query("SELECT thank_you_status FROM actions WHERE id = :id", id=second) == [
        ("pending",)]
    with app.app_context():
        assert claim_thank_yous(10) == []
        db.session.commit()
    assert query("SELECT id, thank_you_status FROM actions ORDER BY id") == [
        (first, "sending"), (second, "skipped")]


@pytest.mark.worker
def test_a_real_worker_sends_one_email_for_signatures_on_several_pages(
        celery_worker, create_page, sign, smtp_sink, query):
    pages = [create_page() for _ in range(4)]
    for slug in pages:
        assert sign(slug, email="min@example.org", opt_in="y").status_code == 303
    wait_until(lambda: query("SELECT count(*) FROM actions WHERE thank_you_status "
                             "IN ('sent', 'skipped')") == [(4,)], timeout=60,
               message="every thank-you sent or skipped")
    time.sleep(0.5)
    assert [mail.rcpt_tos for mail in smtp_sink.received] == [["min@example.org"]]
    assert query("SELECT thank_you_status, count(*) FROM actions GROUP BY 1 ORDER BY 1") == [
        ("sent", 1), ("skipped", 3)]
