"""The thank-you email: through a real Celery worker to a real SMTP server, exactly once."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from campaign.extensions import db
from campaign.mail.messages import stable_message_id
from tests.conftest import ROOT
from tests.helpers import wait_until


def thank_you_state(query) -> tuple:
    [row] = query("SELECT thank_you_status, thank_you_attempts, thank_you_error FROM actions")
    return row


def run_task_here(app, name: str, *args):
    """Runs a task's real code in this process, as a worker would, with no broker."""
    with app.app_context():
        return app.extensions["celery"].tasks[name].apply(args=args)


@pytest.mark.worker
def test_signing_sends_the_thank_you_through_a_real_worker(celery_worker, create_page, sign,
                                                           smtp_sink, query):
    slug = create_page(title="Stop forced repatriation")
    assert sign(slug, email="Reader@Example.org", first_name="Min").status_code == 303

    [mail] = smtp_sink.wait_for(1)
    message = mail.message
    assert mail.rcpt_tos == ["reader@example.org"]
    assert message["To"] == "Min Park <reader@example.org>"
    assert message["From"] == "Campaign Test <campaign@example.org>"
    assert message["Subject"] == "Thank you for signing: Stop forced repatriation"
    [(action_id,)] = query("SELECT id FROM actions")
    assert message["Message-ID"] == stable_message_id(f"thank-you:{action_id}",
                                                      "campaign@example.org")
    body = message.get_body(("plain",)).get_content()
    assert "Dear Min," in body
    assert f"http://campaign.test/a/{slug}" in body
    assert "1 Test Street, Testville" in body
    assert message.get_body(("html",)) is not None
    wait_until(lambda: thank_you_state(query)[0] == "sent", message="status sent")


def test_a_second_run_of_the_task_sends_nothing(app, create_page, create_signature, smtp_sink,
                                                query):
    slug = create_page()
    create_signature(slug)
    assert run_task_here(app, "supporters.send_thank_yous").result == 1
    assert run_task_here(app, "supporters.send_thank_yous").result == 0
    assert len(smtp_sink.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp_sink.received) == 1
    assert thank_you_state(query) == ("sent", 1, "")


def test_a_claim_held_by_another_worker_stops_the_task(app, create_page, create_signature,
                                                       smtp_sink,
                                                       query):
    slug = create_page()
    create_signature(slug)
    with app.app_context():
        db.session.execute(text("UPDATE actions SET thank_you_status = 'sending', "
                                "thank_you_claimed_at = now()"))
        db.session.commit()
    assert run_task_here(app, "supporters.send_thank_yous").result == 0
    assert smtp_sink.received == []
    assert thank_you_state(query)[0] == "sending"


@pytest.mark.worker
def test_a_transient_smtp_failure_is_retried_and_delivered_once(celery_worker, create_page,
                                                                sign, smtp_sink, query):
    smtp_sink.reply_next("451 4.3.0 Mailbox busy, try later")
    slug = create_page()
    sign(slug)
    smtp_sink.wait_for(1, timeout=60)
    wait_until(lambda: thank_you_state(query)[0] == "sent", message="status sent")
    time.sleep(0.5)
    assert len(smtp_sink.received) == 1
    assert thank_you_state(query)[1] == 2  # one failed attempt, one delivered


def test_an_unreachable_smtp_server_fails_the_email_after_the_last_retry(app, create_page,
                                                                 create_signature,
                                                                 smtp_sink, query):
    from tests.servers import free_port
    from workers.supporters import MAX_ATTEMPTS

    slug = create_page()
    create_signature(slug)
    transport = app.extensions["mail_transport"]
    real_port = transport.port
    transport.close()
    transport.port = free_port()  # nothing listens there: connection refused
    try:
        result = run_task_here(app, "supporters.send_thank_yous")
        status, attempts, error = thank_you_state(query)
        assert (status, attempts) == ("pending", 1)  # given back for a retry, later
        assert "ConnectionRefusedError" in error
        assert run_task_here(app, "supporters.send_thank_yous").result == 0  # not due yet

        with app.app_context():  # as if the retries before the last had failed too
            db.session.execute(text("UPDATE actions SET thank_you_next_attempt_at = now(), "
                                    "thank_you_attempts = :n"), {"n": MAX_ATTEMPTS - 1})
            db.session.commit()
        result = run_task_here(app, "supporters.send_thank_yous")
    finally:
        transport.port = real_port
    assert result.successful()
    status, attempts, error = thank_you_state(query)
    assert (status, attempts) == ("failed", MAX_ATTEMPTS)
    assert "ConnectionRefusedError" in error


@pytest.mark.worker
def test_signatures_survive_redis_being_down_and_the_sweep_sends_them(
        celery_worker, redis_server, app, create_page, sign, smtp_sink, query):
    if redis_server is None:
        pytest.skip("TEST_REDIS_URL names a Redis server these tests may not stop")
    slug = create_page()
    redis_server.stop()
    try:
        response = sign(slug)
    finally:
        redis_server.start()
    assert response.status_code == 303
    assert thank_you_state(query)[0] == "pending"
    assert smtp_sink.received == []

    # The request for a run never reached the broker; the sweep finds the row.
    assert run_task_here(app, "supporters.sweep_thank_yous").result == 1
    smtp_sink.wait_for(1, timeout=60)
    wait_until(lambda: thank_you_state(query)[0] == "sent", message="status sent")
    assert len(smtp_sink.received) == 1


def test_the_sweep_takes_over_a_claim_from_a_dead_worker(app, create_page, create_signature,
                                                         smtp_sink,
                                                         query):
    slug = create_page()
    action_id = create_signature(slug)
    with app.app_context():
        db.session.execute(text(
            "UPDATE actions SET thank_you_status = 'sending', thank_you_attempts = 1, "
            "thank_you_claimed_at = now() - interval '11 minutes', "
            "created_at = now() - interval '11 minutes'"))
        db.session.commit()
        from campaign.supporters.services import thank_yous_due

        assert thank_yous_due() == 0  # still claimed, until the sweep sees it expired
    assert run_task_here(app, "supporters.sweep_thank_yous").result == 1
    assert run_task_here(app, "supporters.send_thank_yous").result == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail.message["Message-ID"] == stable_message_id(f"thank-you:{action_id}",
                                                           "campaign@example.org")
    assert thank_you_state(query)[:2] == ("sent", 2)


def test_one_run_sends_every_due_thank_you_once_in_batches(app, create_page, create_signature,
                                                           smtp_sink, query, monkeypatch):
    import workers.supporters

    monkeypatch.setattr(workers.supporters, "BATCH_SIZE", 2)
    slug = create_page()
    action_ids = [create_signature(slug, email=f"s{n}@example.org") for n in range(5)]
    assert run_task_here(app, "supporters.send_thank_yous").result == 5
    received = smtp_sink.wait_for(5)
    assert sorted(mail.rcpt_tos[0] for mail in received) == [
        f"s{n}@example.org" for n in range(5)]
    assert query("SELECT count(*) FROM actions WHERE thank_you_status = 'sent' "
                 "AND thank_you_attempts = 1") == [(5,)]
    assert {mail.message["Message-ID"] for mail in received} == {
        stable_message_id(f"thank-you:{i}", "campaign@example.org") for i in action_ids}


def test_beat_starts_with_the_sweep_scheduled(worker_env, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel=DEBUG",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output = b""
        deadline = time.monotonic() + 30
        while b"sweep-thank-yous" not in output and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output += line
    finally:
        process.terminate()
        process.wait(10)
    assert b"beat: Starting" in output, output.decode()[-2000:]
    assert b"sweep-thank-yous" in output, output.decode()[-2000:]


def test_names_in_any_script_reach_the_headers_intact(app, create_page, create_signature,
                                                      smtp_sink):
    slug = create_page(title="북한의 강제노동을 멈춰라")
    create_signature(slug, email="hye-jin@example.org", first_name="혜진", last_name="조")
    run_task_here(app, "supporters.send_thank_yous")
    [mail] = smtp_sink.wait_for(1)
    assert mail.message["To"] == "혜진 조 <hye-jin@example.org>"
    assert mail.message["Subject"] == "Thank you for signing: 북한의 강제노동을 멈춰라"
    assert "Dear 혜진," in mail.message.get_body(("plain",)).get_content()
    assert mail.data.isascii()  # encoded for any mail server, not raw UTF-8


def test_a_header_that_would_end_its_line_is_refused():
    from campaign.mail.messages import mailbox

    for name, address in (("Ann\r\nBcc: victim@example.org", "ann@example.org"),
                          ("Ann", "ann@example.org\r\nBcc: victim@example.org"),
                          ("Ann", "not an address")):
        with pytest.raises(ValueError):
            mailbox(name, address)
