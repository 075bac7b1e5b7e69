"""Delivering letters: real worker, real SMTP server, exactly once, and the fallback channel."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter

import pytest
from sqlalchemy import text

from campaign import create_app
from campaign.extensions import db, enqueue
from campaign.letters.batches import batch_csv, batch_printable_html
from campaign.letters.delivery import letters_due
from campaign.letters.models import FallbackBatch
from campaign.mail.messages import stable_message_id
from tests.conftest import WorkerProcess
from tests.helpers import wait_until
from tests.letters.conftest import status_path_of
from workers.letters import deliver_letters, request_letter_delivery

MAIL_FROM = "campaign@example.org"


def statuses(query) -> list[tuple]:
    return query("SELECT status, channel, attempts FROM letters ORDER BY id")


def history(query, letter_id: int) -> list[str]:
    return [row[0] for row in query(
        "SELECT status FROM letter_events WHERE letter_id = :id ORDER BY id", id=letter_id)]


def run_here(app, name: str, *args):
    with app.app_context():
        return app.extensions["celery"].tasks[name].apply(args=args)


@pytest.mark.worker
def test_letters_arrive_with_the_right_headers(celery_worker, app, client, letter_page,
                                               send_letter, smtp_sink, query):
    slug, _ = letter_page()
    sent = send_letter(slug, body="Please act, {target_title}.")
    assert sent.status_code == 303
    [(action_id,)] = query("SELECT id FROM actions")
    status_path = status_path_of(app, action_id)
    received = smtp_sink.wait_for(3)  # two letters and the supporter's receipt
    by_recipient = {mail.rcpt_tos[0]: mail.message for mail in received}

    letter = by_recipient["embassy@example.org"]
    [(key,)] = query("SELECT idempotency_key FROM letters WHERE subject IS NOT NULL "
                     "AND target_id = (SELECT min(target_id) FROM letters)")
    assert letter["From"] == "Campaign Test <campaign@example.org>"
    assert letter["To"] == "Embassy Desk <embassy@example.org>"
    assert letter["Reply-To"] == "Hye-jin Cho <hye-jin@example.org>"
    assert letter["Subject"] == "Stop the forced-labour trade"
    assert letter["Message-ID"] == stable_message_id(key, MAIL_FROM)
    assert letter.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        "Dear Embassy Desk,\n\nPlease act, Ambassador.\n\n"
        "Sincerely,\nHye-jin Cho\nSpringfield 62701\n")

    receipt = by_recipient["hye-jin@example.org"]
    assert receipt["Subject"].startswith("Your letters:")
    receipt_text = receipt.get_body(("plain",)).get_content()
    assert "Embassy Desk, Ambassador: by email" in receipt_text
    assert "UN Mission, Permanent Representative: by email" in receipt_text
    # The worker unseals the link the web app made (they share SECRET_KEY).
    assert f"http://campaign.test{status_path}\r\n" in receipt_text
    wait_until(lambda: [s[0] for s in statuses(query)] == ["sent", "sent"],
               message="letters sent")


@pytest.mark.worker
def test_a_451_then_250_delivers_the_letter_once(celery_worker, letter_page, write_letters,
                                                 smtp_sink, query, app):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    [letter_id] = write_letters(slug)
    smtp_sink.reply_next("451 4.7.1 Greylisted, try again")
    with app.app_context():
        enqueue(deliver_letters)
    wait_until(lambda: statuses(query)[0][0] == "sent", timeout=60, message="letter sent")
    time.sleep(0.5)
    assert len(smtp_sink.received) == 1
    assert statuses(query) == [("sent", "email", 2)]
    assert history(query, letter_id) == ["queued", "sending", "failed", "queued", "sending",
                                         "sent"]


def test_html_in_a_letter_is_escaped_in_the_html_part_and_kept_in_the_text(
        app, letter_page, write_letters, smtp_sink):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    write_letters(slug, body='Hi <script>alert(1)</script> <a href="x">y</a>')
    assert run_here(app, "letters.deliver").result == 1
    [mail] = smtp_sink.wait_for(1)
    html = mail.message.get_body(("html",)).get_content()
    text = mail.message.get_body(("plain",)).get_content()
    assert "<script>" not in html and '<a href="x">' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'Hi <script>alert(1)</script> <a href="x">y</a>' in text


def test_targets_without_email_go_to_one_batch_that_staff_export_and_deliver(
        app, letter_page, write_letters, query):
    slug, _ = letter_page(targets=[("Consulate", "Consul-General", None)])
    letter_ids = write_letters(slug, count=3, body="=HYPERLINK(\"http://x\") Free them.")
    assert run_here(app, "letters.deliver").result == 0
    [(batch_id, count)] = query("SELECT fallback_batch_id, count(*) FROM letters "
                                "GROUP BY fallback_batch_id")
    assert count == 3
    with app.app_context():
        batch = db.session.get(FallbackBatch, batch_id)
        rows = list(csv.DictReader(io.StringIO(batch_csv(batch))))
        printable = batch_printable_html(batch)
    assert [row["letter_id"] for row in rows] == [str(i) for i in letter_ids]
    assert rows[0]["target_name"] == "Consulate"
    # A letter starting with = would run as a spreadsheet formula; it is neutralised.
    assert all(not row["body"].startswith("=") for row in rows)
    assert printable.count('class="letter"') == 3
    assert "page-break-after" in printable

    runner = app.test_cli_runner()
    listing = runner.invoke(args=["letters", "batches"])
    assert listing.output == f"{batch_id}\t3 letters\tConsulate, Consul-General\n"
    result = runner.invoke(args=["letters", "mark-delivered", str(batch_id), "--note",
                                 "by hand, 3 May"])
    assert result.exit_code == 0, result.output
    assert [s[0] for s in statuses(query)] == ["delivered"] * 3
    assert history(query, letter_ids[0])[-1] == "delivered"
    # New fallback letters start a new batch.
    write_letters(slug)
    run_here(app, "letters.deliver")
    assert query("SELECT count(DISTINCT fallback_batch_id) FROM letters") == [(2,)]


def test_a_second_copy_of_the_task_sends_nothing(app, letter_page, write_letters, smtp_sink,
                                                 query):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    write_letters(slug)
    assert run_here(app, "letters.deliver").result == 1
    assert run_here(app, "letters.deliver").result == 0
    assert len(smtp_sink.wait_for(1)) == 1
    assert statuses(query) == [("sent", "email", 1)]


def test_over_the_hourly_cap_letters_wait(app, letter_page, write_letters, smtp_sink, query):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")],
                          target_hourly_cap=2)
    letter_ids = write_letters(slug, count=3)
    assert run_here(app, "letters.deliver").result == 2
    assert run_here(app, "letters.deliver").result == 0  # the third is not due yet
    assert len(smtp_sink.wait_for(2)) == 2
    assert [s[0] for s in statuses(query)] == ["sent", "sent", "queued"]
    [(status, wait_minutes)] = query(
        "SELECT status, extract(epoch FROM next_attempt_at - now()) / 60 FROM letters "
        "WHERE id = :id", id=letter_ids[2])
    assert status == "queued"
    assert 55 < wait_minutes <= 60


def test_over_the_cap_an_office_can_get_one_digest(app, letter_page, write_letters,
                                                   smtp_sink, query):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")],
                          target_hourly_cap=1, over_cap="digest")
    write_letters(slug, count=4, body="My own plea.")
    assert run_here(app, "letters.deliver").result == 1
    assert [s[:2] for s in statuses(query)] == [("sent", "email")] + [("queued", "digest")] * 3
    assert run_here(app, "letters.send_digests").result == 1
    first, digest = smtp_sink.wait_for(2)
    message = digest.message
    assert message["Subject"] == "3 letters from constituents: Stop the forced-labour trade"
    body = message.get_body(("plain",)).get_content()
    assert body.count("My own plea.") == 3
    assert body.count("Sincerely,") == 3
    assert "Letter 3 of 3" in body
    assert [s[:2] for s in statuses(query)] == [("sent", "email")] + [("sent", "digest")] * 3
    assert run_here(app, "letters.send_digests").result == 0


def test_the_sweep_finds_lost_and_abandoned_letters(app, letter_page, write_letters, query):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    lost, abandoned, in_flight, waiting = write_letters(slug, count=4)
    with app.app_context():
        db.session.execute(text("UPDATE letters SET status = 'sending', claimed_at = now() - "
                                "interval '11 minutes' WHERE id = :id"), {"id": abandoned})
        db.session.execute(text("UPDATE letters SET status = 'sending', claimed_at = now() "
                                "WHERE id = :id"), {"id": in_flight})
        db.session.execute(text("UPDATE letters SET next_attempt_at = now() + "
                                "interval '5 minutes' WHERE id = :id"), {"id": waiting})
        db.session.commit()
        assert letters_due() == 1  # the lost one; the abandoned one is still 'sending'
    assert run_here(app, "letters.sweep").result == 2  # lost, and abandoned queued again
    assert run_here(app, "letters.deliver").result == 2
    assert dict(query("SELECT id, status FROM letters")) == {
        lost: "sent", abandoned: "sent", in_flight: "sending", waiting: "queued"}
    assert history(query, abandoned) == ["queued", "queued", "sending", "sent"]
    assert query("SELECT detail FROM letter_events WHERE letter_id = :id AND status = "
                 "'queued' ORDER BY id", id=abandoned)[1] == ("taken over from a stopped worker",)


def test_report_counts_personalised_and_repeated_letters(app, letter_page, write_letters):
    from campaign.letters.services import letter_report

    slug, _ = letter_page()
    write_letters(slug, count=2)  # the template, unedited
    write_letters(slug, count=2, body="Same edited words.")
    write_letters(slug, count=1, body="Entirely my own.")
    with app.app_context():
        from campaign.pages.services import load_page_view

        report = letter_report(load_page_view(slug).id)
    assert report.letters == 10
    assert report.submissions == 5
    assert report.personalised_submissions == 3
    assert report.personalised_share == pytest.approx(0.6)
    assert report.distinct_bodies == 3
    assert report.repeated_bodies == 2


@pytest.mark.worker
def test_killed_worker_and_restarted_redis_lose_no_letter(
        app_settings, worker_env, redis_server, letter_page, write_letters, create_page,
        smtp_sink, query, tmp_path):
    """The outbox contract's crash case (tests/outbox), with Redis restarted after the kill:
    every queued and unacknowledged message is gone, and the sweep finds the letters."""
    from tests.outbox.adapters import Fixtures, Letters

    if redis_server is None:
        pytest.skip("TEST_REDIS_URL names a Redis server these tests may not restart")
    queue = app_settings["CELERY_QUEUE"] + "-crash"
    timings = {"LETTER_CLAIM_EXPIRES_SECONDS": 3}
    crash_app = create_app({**app_settings, **timings, "CELERY_QUEUE": queue})
    env = {**worker_env, "CELERY_QUEUE": queue, **{k: str(v) for k, v in timings.items()}}
    letters = Letters()
    letters.make_due(Fixtures(letter_page, write_letters, create_page, query), crash_app, 80)
    expected = letters.keys(query)
    smtp_sink.handler.delay = 0.05  # keep letters in flight when the worker dies

    worker = WorkerProcess(env, tmp_path / "crash-worker.log", concurrency=4)
    worker.start()
    with crash_app.app_context():
        request_letter_delivery()
    smtp_sink.wait_for(15, timeout=60)
    worker.kill()
    # In flight: handed to the mail server by the killed worker, not yet recorded as sent.
    in_flight = len({mail.message["Message-ID"] for mail in smtp_sink.settled()}
                    & letters.keys(query, "sending"))
    redis_server.restart()

    replacement = WorkerProcess(env, tmp_path / "replacement-worker.log", concurrency=4)
    replacement.start()
    try:
        deadline = time.monotonic() + 120
        while letters.keys(query, "sent") != expected:
            assert time.monotonic() < deadline, statuses(query)
            time.sleep(1.5)
            run_here(crash_app, "letters.sweep")  # what beat does every minute
    finally:
        replacement.stop()

    delivered = Counter(mail.message["Message-ID"] for mail in smtp_sink.settled())
    assert set(delivered) == expected  # every letter arrived
    duplicates = sum(delivered.values()) - len(delivered)
    print(f"in flight at the kill: {in_flight}, duplicates: {duplicates}")
    assert duplicates <= in_flight <= 4


def test_the_sweep_command_asks_for_a_run_when_letters_are_due(app, letter_page,
                                                                write_letters, redis_url):
    import redis

    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    write_letters(slug, count=2)
    result = app.test_cli_runner().invoke(args=["letters", "sweep"])
    assert result.output == "Letters due for delivery: 2; digests sent: 0.\n"
    queued = redis.Redis.from_url(redis_url).llen(app.config["CELERY_QUEUE"])
    assert queued == 1  # one run for both letters


def test_a_later_run_is_queued_only_when_sooner_than_the_next_sweep(app, redis_url):
    import redis

    from campaign.outbox import SWEEP_EVERY_SECONDS, request_in

    broker = redis.Redis.from_url(redis_url)
    queue = app.config["CELERY_QUEUE"]
    with app.app_context():
        request_in(deliver_letters, SWEEP_EVERY_SECONDS + 3600)  # a wait under a cap
        assert broker.llen(queue) == 0  # the sweep will ask when it is due
        request_in(deliver_letters, 5)  # a retry's backoff
        assert broker.llen(queue) == 1
