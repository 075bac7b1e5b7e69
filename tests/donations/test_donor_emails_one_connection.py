"""The donor emails' queueing, claim, record and sweep, and the statements' INSERT ...
SELECT, run well past psycopg's fifth run on one connection (where it prepares a
statement and PostgreSQL may plan it generically: see tests/letters/test_one_connection.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from campaign.donations import mailer
from campaign.donations.statements import queue_statements
from campaign.extensions import db
from tests.donations import ledger_rows
from tests.helpers import backend_pid, prepared_statements

RUNS = 25


def test_queueing_claiming_and_recording_donor_emails_work_on_the_25th_run(
        one_connection_app, query):
    with one_connection_app.app_context():
        pid = backend_pid()
        page = ledger_rows.donation_page("one-connection")
        donor = ledger_rows.supporter("one@example.org")
        db.session.commit()
        for run in range(RUNS):
            donation = ledger_rows.donation(page, donor, 1000 + run)
            assert ledger_rows.receipt(donation, donor)
            assert not ledger_rows.receipt(donation, donor)
            db.session.commit()
            assert mailer.donor_emails_due() == 1
            assert mailer.oldest_donor_email_due_since() is not None
            [claimed] = mailer.claim_donor_emails(10)
            db.session.commit()
            assert mailer.claim_donor_emails(10) == []
            mailer.renew_donor_email_claims([claimed])
            assert mailer.requeue_abandoned_donor_emails(claim_expires=timedelta(hours=1)) == 0
            db.session.commit()
            with mailer.recording_donor_email_sent() as record_sent:
                record_sent(claimed)
        assert prepared_statements() > 0
        assert backend_pid() == pid
    assert query("SELECT status, count(*) FROM donor_emails GROUP BY status") == [
        ("sent", RUNS)]


def test_queueing_statements_works_on_the_25th_run(
        one_connection_app, query):
    with one_connection_app.app_context():
        page = ledger_rows.donation_page("statements-one-connection")
        for n in range(3):
            ledger_rows.donation(page, ledger_rows.supporter(f"s{n}@example.org"), 500)
        db.session.commit()
        for run in range(RUNS):
            db.session.execute(text("UPDATE donations SET charged_at = "
                                    "make_timestamptz(:year, 6, 1, 0, 0, 0, 'UTC')"),
                               {"year": 2000 + run})
            assert queue_statements(2000 + run) == 3
            assert queue_statements(2000 + run) == 0
            db.session.commit()
    assert query("SELECT count(*) FROM donor_emails WHERE kind = 'statement'") == [(3 * RUNS,)]
