"""The donor emails: a receipt for every charge (one-time and each monthly one), the
honouree's tribute notice, dunning, gift ended; each sent once, by a real worker to a real
SMTP server, or in-process to the outbox folder on the embedded default; nothing for an
erased donor; no card number in any of them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from campaign import outbox
from campaign.donations.donor_emails import DONOR_EMAILS_DRAIN, queue_donor_email
from campaign.donations.models import DonorEmailKind
from campaign.extensions import db
from tests.conftest import outbox_mail
from tests.donations import ledger_rows

# A card number: 13 to 19 digits, maybe in groups split by spaces or dashes.
PAN_LIKE = re.compile(r"\d(?:[ -]?\d){12,18}")
LINK = re.compile(r"http://campaign\.test(/gifts/(?:manage|card)/[^\s\"<]+)")


def run_drain(flask_app) -> None:
    """One drain run in this process (the session's worker, if one is up, may take some
    rows first: either way each email goes once, which is what the tests read)."""
    with flask_app.app_context():
        flask_app.extensions["celery"].tasks[DONOR_EMAILS_DRAIN].apply()


def plain_body(mail) -> str:
    return mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_body(mail) -> str:
    return mail.message.get_body(("html",)).get_content()


@pytest.fixture
def receipt_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "RECEIPT_LEGAL_NAME", "Test Organisation Foundation e.V.")
    monkeypatch.setitem(app.config, "RECEIPT_TAX_ID", "VR 12345 B")
    monkeypatch.setitem(app.config, "RECEIPT_DEDUCTIBILITY_TEXT",
                        "Gifts to us are tax-deductible as the law allows.")


@pytest.mark.worker
def test_a_one_time_receipt_reaches_the_mail_server_through_a_real_worker(
        app, celery_worker, smtp_sink, query):
    with app.app_context():
        page_id = ledger_rows.donation_page("once")
        donor = ledger_rows.supporter("ji-woo@example.org")
        donation_id = ledger_rows.donation(page_id, donor, 2575, fee_covered=75,
                                           charged_at=datetime(2026, 3, 4, 12, tzinfo=timezone.utc))
        assert ledger_rows.receipt(donation_id, donor)
        db.session.commit()
        outbox.request_run(DONOR_EMAILS_DRAIN)

    [mail] = smtp_sink.wait_for(1) and smtp_sink.settled()
    assert mail.rcpt_tos == ["ji-woo@example.org"]
    assert mail.message["Subject"] == "Your receipt for $25.75"
    body = plain_body(mail)
    for expected in (f"Receipt number: {donation_id}", "Date: 04 March 2026",
                     "Amount received: $25.75 (USD)",
                     "to cover the processing fee: $0.75", "For: Give: once (Giving campaign)",
                     "Received by: Test Organisation", "1 Test Street, Testville"):
        assert expected in body, expected
    assert "/gifts/manage/" not in body  # a one-time gift has nothing to manage
    assert query("SELECT status, attempts FROM donor_emails") == [("sent", 1)]


@pytest.mark.worker
def test_a_monthly_receipt_reaches_the_mail_server_through_a_real_worker(
        app, celery_worker, smtp_sink, query):
    with app.app_context():
        page_id = ledger_rows.donation_page("monthly-worker")
        donor = ledger_rows.supporter("monthly-worker@example.org")
        gift = ledger_rows.monthly_gift(page_id, donor, 1200, subscription_id="sub_worker",
                                        customer_id="cus_worker")
        for month in (1, 2):
            ledger_rows.receipt(ledger_rows.donation(
                page_id, donor, 1200, monthly_gift_id=gift,
                charged_at=datetime(2026, month, 2, tzinfo=timezone.utc)), donor)
        db.session.commit()
        outbox.request_run(DONOR_EMAILS_DRAIN)

    mails = smtp_sink.wait_for(2) and smtp_sink.settled()
    assert len(mails) == 2
    assert {mail.message["Subject"] for mail in mails} == {"Your receipt for $12 (monthly gift)"}
    assert all("/gifts/manage/" in plain_body(mail) for mail in mails)
    assert query("SELECT status FROM donor_emails") == [("sent",), ("sent",)]


def test_a_receipt_carries_the_legal_name_tax_id_and_deductibility_wording(
        app, receipt_settings, smtp_sink):
    with app.app_context():
        page_id = ledger_rows.donation_page("legal")
        donor = ledger_rows.supporter("min@example.org")
        ledger_rows.receipt(ledger_rows.donation(page_id, donor, 1000), donor)
        db.session.commit()
    run_drain(app)
    [mail] = smtp_sink.wait_for(1) and smtp_sink.settled()
    for body in (plain_body(mail), html_body(mail)):
        assert "Test Organisation Foundation e.V." in body
        assert "tax id VR 12345 B" in body
        assert "Gifts to us are tax-deductible as the law allows." in body


def test_each_monthly_receipt_carries_a_link_to_manage_the_gift(app, client, smtp_sink):
    with app.app_context():
        page_id = ledger_rows.donation_page("monthly")
        donor = ledger_rows.supporter("monthly@example.org")
        gift = ledger_rows.monthly_gift(page_id, donor, 1500, subscription_id="sub_mail_1",
                                        customer_id="cus_mail_1")
        for month in (1, 2):  # the first payment and a renewal: a receipt each
            ledger_rows.receipt(ledger_rows.donation(
                page_id, donor, 1500, monthly_gift_id=gift,
                charged_at=datetime(2026, month, 10, tzinfo=timezone.utc)), donor)
        db.session.commit()
    run_drain(app)
    mails = smtp_sink.wait_for(2) and smtp_sink.settled()
    assert len(mails) == 2
    for mail in mails:
        assert mail.message["Subject"] == "Your receipt for $15 (monthly gift)"
        [path] = set(LINK.findall(plain_body(mail)))
        assert path.startswith("/gifts/manage/")
        page = client.get(path)
        assert page.status_code == 200
        assert "You give <strong>$15</strong> a month" in page.get_data(as_text=True)


def test_an_email_asked_for_twice_is_sent_once(app, smtp_sink, query):
    with app.app_context():
        page_id = ledger_rows.donation_page("twice")
        donor = ledger_rows.supporter("twice@example.org")
        donation_id = ledger_rows.donation(page_id, donor, 2000)
        assert ledger_rows.receipt(donation_id, donor)
        db.session.commit()
        assert not ledger_rows.receipt(donation_id, donor)  # a webhook applied again
        db.session.commit()
    run_drain(app)
    run_drain(app)
    smtp_sink.wait_for(1)
    assert len(smtp_sink.settled()) == 1
    assert query("SELECT dedupe_key, status FROM donor_emails") == [
        (f"receipt:{donation_id}", "sent")]


def test_zero_decimal_currencies_are_written_without_decimals(app, smtp_sink):
    with app.app_context():
        page_id = ledger_rows.donation_page("won", currency="krw", minimum=1000,
                                            maximum=10_000_000)
        donor = ledger_rows.supporter("won@example.org")
        ledger_rows.receipt(ledger_rows.donation(page_id, donor, 50000, currency="krw",
                                                 fee_covered=1500), donor)
        db.session.commit()
    run_drain(app)
    [mail] = smtp_sink.wait_for(1) and smtp_sink.settled()
    body = plain_body(mail)
    assert mail.message["Subject"] == "Your receipt for ₩50,000"
    assert "Amount received: ₩50,000 (KRW)" in body
    assert "processing fee: ₩1,500" in body
    assert "500.00" not in body and "50,000.00" not in body


def test_the_honouree_hears_who_gave_in_their_name_but_never_how_much(app, smtp_sink):
    with app.app_context():
        page_id = ledger_rows.donation_page("tribute")
        donor = ledger_rows.supporter("giver@example.org")
        attempt = ledger_rows.tribute_attempt(page_id, email="giver@example.org",
                                              tribute_name="Grandmother Kim",
                                              notify="kim@example.org", kind="memory",
                                              amount=7300)
        donation_id = ledger_rows.donation(page_id, donor, 7300, gift_attempt_id=attempt)
        queue_donor_email(db.session, DonorEmailKind.TRIBUTE, f"tribute:{attempt}",
                          donation_id=donation_id)
        db.session.commit()
    run_drain(app)
    [mail] = smtp_sink.wait_for(1) and smtp_sink.settled()
    assert mail.rcpt_tos == ["kim@example.org"]
    assert mail.message["Subject"] == "A gift in memory of Grandmother Kim"
    for body in (plain_body(mail), html_body(mail)):
        assert "Ji-woo Park has made a gift to Test Organisation in memory of" in body
        assert "73" not in body and "$" not in body


def test_a_failed_monthly_payment_asks_for_a_new_card_and_an_ended_gift_says_so(
        app, smtp_sink):
    with app.app_context():
        page_id = ledger_rows.donation_page("dunning")
        donor = ledger_rows.supporter("dunned@example.org")
        gift = ledger_rows.monthly_gift(page_id, donor, 2000, subscription_id="sub_mail_2",
                                        customer_id="cus_mail_2", status="past_due")
        queue_donor_email(db.session, DonorEmailKind.DUNNING, "dunning:in_1:1",
                          monthly_gift_id=gift, supporter_id=donor)
        db.session.commit()
    run_drain(app)
    [dunning] = smtp_sink.wait_for(1) and smtp_sink.settled()
    assert dunning.message["Subject"] == "Your monthly gift: the payment did not go through"
    paths = LINK.findall(plain_body(dunning))
    assert [p.split("/")[2] for p in paths] == ["card", "manage"]

    smtp_sink.clear()
    with app.app_context():
        db.session.execute(text("UPDATE monthly_gifts SET status = 'canceled', "
                                "ended_reason = '3 failed payments'"))
        queue_donor_email(db.session, DonorEmailKind.GIFT_ENDED, f"gift_ended:{gift}",
                          monthly_gift_id=gift, supporter_id=donor)
        db.session.commit()
    run_drain(app)
    [ended] = smtp_sink.wait_for(1) and smtp_sink.settled()
    assert ended.message["Subject"] == "Your monthly gift has ended"
    assert "has ended: 3 failed payments." in plain_body(ended)
    assert "/gifts/" not in plain_body(ended)


def test_an_erased_donor_gets_nothing(app, smtp_sink, query):
    with app.app_context():
        page_id = ledger_rows.donation_page("erased")
        donor = ledger_rows.supporter("erased@example.org")
        ledger_rows.receipt(ledger_rows.donation(page_id, donor, 2000), donor)
        db.session.execute(text("UPDATE supporters SET erased_at = now()"))
        db.session.commit()
    run_drain(app)
    assert smtp_sink.settled() == []
    [(status, error)] = query("SELECT status, last_error FROM donor_emails")
    assert status == "skipped" and "erased" in error


def test_the_embedded_default_sends_receipts_in_process_to_the_outbox_folder(embedded_app):
    with embedded_app.app_context():
        page_id = ledger_rows.donation_page("embedded")
        donor = ledger_rows.supporter("embedded@example.org")
        gift = ledger_rows.monthly_gift(page_id, donor, 1000, subscription_id="sub_embedded",
                                        customer_id="cus_embedded")
        donation_id = ledger_rows.donation(page_id, donor, 1000, monthly_gift_id=gift)
        ledger_rows.receipt(donation_id, donor)
        ledger_rows.receipt(donation_id, donor)  # asked twice
        db.session.commit()
        outbox.request_run(DONOR_EMAILS_DRAIN)  # runs now, here
        outbox.request_run(DONOR_EMAILS_DRAIN)
        statuses = db.session.execute(text("SELECT status FROM donor_emails")).all()
    [mail] = outbox_mail(embedded_app)
    assert mail["To"] == "Ji-woo Park <embedded@example.org>"
    assert "Amount received: $10 (USD)" in mail.get_body(("plain",)).get_content()
    assert "/gifts/manage/" in mail.get_body(("plain",)).get_content()
    assert [tuple(row) for row in statuses] == [("sent",)]


def test_no_donor_email_carries_a_card_number(app, smtp_sink):
    """Whatever a donor typed, the emails are built from the ledger: amounts, dates, ids."""
    with app.app_context():
        page_id = ledger_rows.donation_page("pan")
        donor = ledger_rows.supporter("pan@example.org")
        gift = ledger_rows.monthly_gift(page_id, donor, 4242, subscription_id="sub_pan",
                                        customer_id="cus_pan")
        attempt = ledger_rows.tribute_attempt(page_id, email="pan@example.org",
                                              tribute_name="Lee", notify="lee@example.org")
        one_time = ledger_rows.donation(page_id, donor, 424242, gift_attempt_id=attempt,
                                        payment_intent="pi_4242424242424242")
        monthly = ledger_rows.donation(page_id, donor, 4242, monthly_gift_id=gift)
        ledger_rows.receipt(one_time, donor)
        ledger_rows.receipt(monthly, donor)
        queue_donor_email(db.session, DonorEmailKind.TRIBUTE, f"tribute:{attempt}",
                          donation_id=one_time)
        queue_donor_email(db.session, DonorEmailKind.DUNNING, "dunning:in_2:1",
                          monthly_gift_id=gift, supporter_id=donor)
        queue_donor_email(db.session, DonorEmailKind.GIFT_ENDED, f"gift_ended:{gift}",
                          monthly_gift_id=gift, supporter_id=donor)
        queue_donor_email(db.session, DonorEmailKind.STATEMENT,
                          f"statement:{donor}:{datetime.now(timezone.utc).year}",
                          supporter_id=donor, year=datetime.now(timezone.utc).year)
        db.session.commit()
    run_drain(app)
    mails = smtp_sink.wait_for(6) and smtp_sink.settled()
    assert len(mails) == 6
    for mail in mails:
        raw = mail.data.decode()
        assert not PAN_LIKE.search(plain_body(mail)), mail.message["Subject"]
        assert not PAN_LIKE.search(html_body(mail)), mail.message["Subject"]
        assert "4242424242424242" not in raw
