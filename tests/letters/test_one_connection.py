"""Every upsert and claim, run dozens of times on one database connection, as a worker or
a web process runs them in production.

psycopg prepares a statement after its fifth run on a connection, and PostgreSQL then
plans it once for any parameters (a generic plan). An `ON CONFLICT ... WHERE` whose
predicate is a bound parameter can no longer be matched to its partial unique index under
such a plan: from about the eleventh run every call failed, and letter delivery stopped for
good. These tests run each path well past that point on a single connection.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from campaign.extensions import db
from campaign.health.drains import record_drain_run
from campaign.letters import delivery
from campaign.letters.services import get_settings
from campaign.pages.services import load_page_view
from campaign.supporters.services import (
    Signature,
    claim_thank_yous,
    commit_signature,
    mark_thank_you_sent,
    record_signature,
    requeue_abandoned_thank_yous,
)
from tests.helpers import backend_pid, prepared_statements

RUNS = 25


def test_opening_fallback_batches_works_on_the_25th_run(one_connection_app, letter_page,
                                                       write_letters):
    slug, _ = letter_page(targets=[(f"Office {n}", "Clerk", None) for n in range(RUNS)])
    write_letters(slug, count=2, flask_app=one_connection_app)
    with one_connection_app.app_context():
        pid = backend_pid()
        target_ids = [row[0] for row in db.session.execute(
            text("SELECT DISTINCT target_id FROM letters ORDER BY 1"))]
        assert len(target_ids) == RUNS
        for round_ in range(2):  # a new batch each, then the open one found again
            for target_id in target_ids:
                batch = delivery.open_batch_for(target_id)
                assert batch.target_id == target_id
                db.session.commit()
        assert prepared_statements() > 0  # the driver did prepare them
        assert backend_pid() == pid


def test_a_delivery_run_after_many_runs_still_batches_and_sends(one_connection_app,
                                                                letter_page, write_letters,
                                                                smtp_sink, query):
    # One emailed office and one without an address: both paths, run after run.
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org"),
                                   ("Congress Office", "Representative", None)],
                          target_hourly_cap=100000)
    tasks = one_connection_app.extensions["celery"].tasks
    with one_connection_app.app_context():
        pid = backend_pid()
    for _ in range(RUNS):
        write_letters(slug, count=1, flask_app=one_connection_app)
        with one_connection_app.app_context():
            assert tasks["letters.deliver"].apply().result == 1
    assert query("SELECT status, count(*) FROM letters GROUP BY status ORDER BY 1") == [
        ("batched", RUNS), ("sent", RUNS)]
    assert len(smtp_sink.wait_for(RUNS)) == RUNS
    with one_connection_app.app_context():
        assert backend_pid() == pid


def test_signatures_many_times_on_one_connection(one_connection_app, create_page, query):
    slugs = [create_page(), create_page()]
    with one_connection_app.app_context():
        pid = backend_pid()
        page_ids = [load_page_view(slug).id for slug in slugs]
        db.session.commit()  # the connection goes back to the pool for the signatures
        for n in range(RUNS):
            for page_id in page_ids:  # a new supporter, then one who exists
                # Every other one with where it came from: the attribution count's upsert.
                signature = Signature(email=f"signer{n}@example.org", first_name="A",
                                      last_name="B", opted_in=n % 2 == 0,
                                      source="mail" if n % 2 else "",
                                      utm={"campaign": f"c{n % 3}"} if n % 2 else None)
                assert not commit_signature(page_id, signature, "v1").is_duplicate
                assert commit_signature(page_id, signature, "v1").is_duplicate
            result = record_signature(page_ids[0], Signature(
                email=f"writer{n}@example.org", first_name="C", last_name="D"), "v1")
            assert not result.is_duplicate
            db.session.commit()
        assert backend_pid() == pid
    assert query("SELECT count(*) FROM actions") == [(RUNS * 3,)]


def test_view_counts_flush_many_times_on_one_connection(one_connection_app, create_page,
                                                        query):
    slug = create_page()
    counter = one_connection_app.extensions["view_counter"]
    with one_connection_app.app_context():
        page_id = load_page_view(slug).id
        pid = backend_pid()
    for n in range(RUNS):
        counter.add(page_id, date(2026, 12, 1), f"source-{n % 3}")
        counter.flush()
    assert query("SELECT sum(views) FROM page_view_counts") == [(RUNS,)]
    with one_connection_app.app_context():
        assert backend_pid() == pid


def test_claims_and_the_sweep_many_times_on_one_connection(one_connection_app, letter_page,
                                                           write_letters):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")],
                          target_hourly_cap=100000)
    write_letters(slug, count=RUNS, flask_app=one_connection_app)
    with one_connection_app.app_context():
        pid = backend_pid()
        for _ in range(RUNS):
            claimed = delivery.claim_letters(1, get_settings)
            assert len(claimed.to_send) == 1
            db.session.commit()
            delivery.requeue_abandoned(claim_expires=delivery.CAP_WINDOW)
            delivery.letters_due()
            db.session.commit()
        assert backend_pid() == pid


def test_thank_you_claims_and_drain_records_many_times_on_one_connection(
        one_connection_app, create_page, query):
    slug = create_page()
    with one_connection_app.app_context():
        page_id = load_page_view(slug).id
        db.session.commit()
        for n in range(RUNS):
            commit_signature(page_id, Signature(email=f"thanked{n}@example.org",
                                                first_name="A", last_name="B"), "v1")
        pid = backend_pid()
        for _ in range(RUNS):
            [action_id] = claim_thank_yous(1)
            mark_thank_you_sent(action_id)
            db.session.commit()
            requeue_abandoned_thank_yous(claim_expires=timedelta(minutes=2))
            db.session.commit()
            record_drain_run("supporters.send_thank_yous")
            record_drain_run("letters.deliver", "ValueError: a test")
        assert backend_pid() == pid
    assert query("SELECT count(*) FROM actions WHERE thank_you_status = 'sent'") == [(RUNS,)]
    assert query("SELECT name, failures_in_a_row FROM drain_states ORDER BY name") == [
        ("letters.deliver", RUNS), ("supporters.send_thank_yous", 0)]


def test_private_links_and_staff_sessions_many_times_on_one_connection(
        one_connection_app, create_page, letter_page, write_letters):
    """Issue 10's new lookups by a token's digest: status links, opt-in confirmations and
    staff sessions, each created, found and spent 25 times on the one connection."""
    from campaign.auth.services import create_staff_user
    from campaign.auth.sessions import end_staff_session, staff_session_user, start_staff_session
    from campaign.letters.status_links import (
        action_for_token,
        create_status_link,
        status_link_token,
    )
    from campaign.supporters.consents import confirm_consent, issue_confirmation, pending_consent

    slug = create_page()
    letter_slug, _ = letter_page()
    write_letters(letter_slug, count=RUNS, flask_app=one_connection_app)
    secret = one_connection_app.config["SECRET_KEY"]
    hours = timedelta(hours=12)
    with one_connection_app.app_context():
        page_id = load_page_view(slug).id
        db.session.commit()
        for n in range(RUNS):
            commit_signature(page_id, Signature(email=f"opted{n}@example.org", first_name="A",
                                                last_name="B", opted_in=True), "v1")
        user = create_staff_user("one.connection@example.org", name="One Connection",
                                 password="correct horse battery staple")
        db.session.commit()
        pid = backend_pid()
        action_ids = [row[0] for row in db.session.execute(text(
            "SELECT DISTINCT action_id FROM letters ORDER BY 1"))]
        supporter_ids = [row[0] for row in db.session.execute(text(
            "SELECT supporter_id FROM consents ORDER BY 1"))]
        db.session.commit()
        for action_id, supporter_id in zip(action_ids, supporter_ids, strict=True):
            token = create_status_link(action_id, secret_key=secret, valid_for=hours)
            db.session.commit()
            assert status_link_token(action_id, secret_key=secret) == token
            assert action_for_token(token) == action_id

            confirm = issue_confirmation(supporter_id, page_id, hours)
            db.session.commit()
            assert pending_consent(confirm) is not None
            assert confirm_consent(confirm)
            db.session.commit()

            session_token = start_staff_session(user, lifetime=hours)
            db.session.commit()
            assert staff_session_user(session_token, idle=hours, lifetime=hours) == user
            end_staff_session(session_token)
            db.session.commit()
            assert staff_session_user(session_token, idle=hours, lifetime=hours) is None
        assert backend_pid() == pid
