"""`flask --app wsgi donations statements --year 2026`: one statement per donor and year
however often it runs, with the year's gifts net of refunds, per currency; nobody who
was erased, gave nothing that year, or had everything refunded."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from campaign.donations.statements import queue_statements
from campaign.extensions import db
from tests.donations import ledger_rows
from tests.donations.test_donor_emails import plain_body, run_drain


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=timezone.utc)


def test_statements_go_once_per_donor_and_year_with_the_sums_net_of_refunds(
        app, smtp_sink, query):
    with app.app_context():
        dollars = ledger_rows.donation_page("dollars")
        won = ledger_rows.donation_page("won", currency="krw", minimum=1000,
                                        maximum=10_000_000)
        ana = ledger_rows.supporter("ana@example.org", "Ana", "Lee")
        bo = ledger_rows.supporter("bo@example.org", "Bo", "Kim")
        erased = ledger_rows.supporter("gone@example.org", "Gone", "Away")
        refunded = ledger_rows.supporter("refunded@example.org", "Re", "Funded")
        last_year = ledger_rows.supporter("lastyear@example.org", "Last", "Year")
        ledger_rows.donation(dollars, ana, 5000, charged_at=at(1, 15))
        ledger_rows.donation(dollars, ana, 2500, refunded=1000, charged_at=at(6, 1))
        ledger_rows.donation(dollars, ana, 9900, refunded=9900, charged_at=at(7, 1))
        ledger_rows.donation(won, ana, 30000, currency="krw", charged_at=at(12, 31))
        ledger_rows.donation(dollars, ana, 7777, charged_at=at(12, 31, 2025))
        ledger_rows.donation(dollars, bo, 1000, charged_at=at(3, 3))
        ledger_rows.donation(dollars, erased, 1000, charged_at=at(3, 3))
        ledger_rows.donation(dollars, refunded, 1000, refunded=1000, charged_at=at(3, 3))
        ledger_rows.donation(dollars, last_year, 1000, charged_at=at(3, 3, 2025))
        db.session.execute(text("UPDATE supporters SET erased_at = now() WHERE id = :id"),
                           {"id": erased})
        db.session.commit()

    runner = app.test_cli_runner()
    first = runner.invoke(args=["donations", "statements", "--year", "2026"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Queued 2 statements for 2026."
    second = runner.invoke(args=["donations", "statements", "--year", "2026"])
    assert second.output.strip() == "Queued 0 statements for 2026."
    run_drain(app)  # or the session's worker, asked by the command

    mails = smtp_sink.wait_for(2) and smtp_sink.settled()
    assert sorted(mail.rcpt_tos[0] for mail in mails) == ["ana@example.org", "bo@example.org"]
    assert sorted(query("SELECT dedupe_key, status FROM donor_emails")) == [
        (f"statement:{ana}:2026", "sent"), (f"statement:{bo}:2026", "sent")]
    [ana_mail] = [mail for mail in mails if mail.rcpt_tos == ["ana@example.org"]]
    assert ana_mail.message["Subject"] == "Your giving in 2026"
    body = plain_body(ana_mail)
    assert "Total given in 2026: ₩30,000 and $65" in body  # 50 + (25 - 10); 99 refunded
    assert "- 15 January 2026: $50 (one-time, Give: dollars)" in body
    assert "- 01 June 2026: $15 (one-time, Give: dollars; $25 given, $10 refunded)" in body
    assert "- 31 December 2026: ₩30,000 (one-time, Give: won)" in body
    assert "$99" not in body and "$77.77" not in body

    # A run for another year is another statement; running again still sends nothing.
    assert runner.invoke(args=["donations", "statements", "--year", "2025"]).output.strip() \
        == "Queued 2 statements for 2025."
    run_drain(app)
    assert len(smtp_sink.wait_for(4) and smtp_sink.settled()) == 4


def test_the_year_must_be_given_and_be_a_year(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["donations", "statements"]).exit_code == 2
    result = runner.invoke(args=["donations", "statements", "--year", "twenty"])
    assert result.exit_code == 2 and "twenty" in result.output


def test_statements_on_the_embedded_default_are_written_to_the_outbox(embedded_app):
    from tests.conftest import outbox_mail

    with embedded_app.app_context():
        page = ledger_rows.donation_page("embedded-statement")
        donor = ledger_rows.supporter("solo@example.org")
        ledger_rows.donation(page, donor, 1234, charged_at=at(5, 5))
        db.session.commit()
    runner = embedded_app.test_cli_runner()
    assert runner.invoke(args=["donations", "statements", "--year", "2026"]).output.strip() \
        == "Queued 1 statement for 2026."
    assert runner.invoke(args=["donations", "statements", "--year", "2026"]).output.strip() \
        == "Queued 0 statements for 2026."
    [mail] = outbox_mail(embedded_app)
    assert "Total given in 2026: $12.34" in mail.get_body(("plain",)).get_content()


def test_a_donor_erased_after_their_statement_was_queued_gets_nothing(app, smtp_sink, query):
    with app.app_context():
        page = ledger_rows.donation_page("erased-later")
        donor = ledger_rows.supporter("later@example.org")
        ledger_rows.donation(page, donor, 1000, charged_at=at(2, 2))
        db.session.commit()
        assert queue_statements(2026) == 1
        db.session.execute(text("UPDATE supporters SET erased_at = now()"))
        db.session.commit()
    run_drain(app)
    assert smtp_sink.settled() == []
    [(status, error)] = query("SELECT status, last_error FROM donor_emails")
    assert status == "skipped" and "erased" in error
