"""A worker killed mid-delivery: nothing is lost, at most one message per worker process
is sent twice, and a restarted worker resumes by itself, without waiting for beat."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import text

from campaign import create_app
from campaign.extensions import db
from campaign.mail.messages import stable_message_id
from campaign.pages.services import load_page_view
from campaign.supporters.services import Signature, record_signature
from tests.conftest import WorkerProcess

MAIL_FROM = "campaign@example.org"
CONCURRENCY = 4
CLAIM_EXPIRES = 5


def _letters(crash_app, letter_page, write_letters, query):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org"),
                                   ("UN Mission", "Representative", "mission@example.org")],
                          target_hourly_cap=100000)
    write_letters(slug, count=60, flask_app=crash_app)
    with crash_app.app_context():  # letters alone are under test: no receipts
        db.session.execute(text("UPDATE actions SET thank_you_status = 'sent'"))
        db.session.commit()

    def keys(where: str) -> set[str]:
        return {stable_message_id(key, MAIL_FROM) for (key,) in query(
            f"SELECT idempotency_key FROM letters {where}")}

    return "letters.deliver", lambda: keys("WHERE status = 'sending'"), lambda: keys("")


def _thank_yous(crash_app, create_page, query):
    slug = create_page()
    with crash_app.app_context():
        page_id = load_page_view(slug).id
        for n in range(120):
            record_signature(page_id, Signature(email=f"signer{n}@example.org",
                                                first_name="Min", last_name="Seo"), "v1")
        db.session.commit()

    def keys(where: str) -> set[str]:
        return {stable_message_id(f"thank-you:{action_id}", MAIL_FROM)
                for (action_id,) in query(f"SELECT id FROM actions {where}")}

    return ("supporters.send_thank_yous",
            lambda: keys("WHERE thank_you_status = 'sending'"), lambda: keys(""))


@pytest.mark.worker
@pytest.mark.parametrize("drain", ["letters", "thank-yous"])
def test_a_killed_worker_duplicates_at_most_one_message_per_process_and_a_new_one_resumes(
        drain, app_settings, worker_env, create_page, letter_page, write_letters, smtp_sink,
        query, tmp_path):
    queue = f"{app_settings['CELERY_QUEUE']}-kill-{drain}"
    timings = {"LETTER_CLAIM_EXPIRES_SECONDS": CLAIM_EXPIRES,
               "THANK_YOU_CLAIM_EXPIRES_SECONDS": CLAIM_EXPIRES}
    crash_app = create_app({**app_settings, **timings, "CELERY_QUEUE": queue})
    env = {**worker_env, "CELERY_QUEUE": queue, **{k: str(v) for k, v in timings.items()}}
    if drain == "letters":
        task_name, claimed_now, expected = _letters(crash_app, letter_page, write_letters,
                                                    query)
    else:
        task_name, claimed_now, expected = _thank_yous(crash_app, create_page, query)
    total = len(expected())
    smtp_sink.handler.delay = 0.05  # keep messages in flight when the worker dies

    worker = WorkerProcess(env, tmp_path / "killed-worker.log", concurrency=CONCURRENCY)
    worker.start()
    with crash_app.app_context():
        for _ in range(CONCURRENCY):  # every process busy at the kill
            crash_app.extensions["celery"].tasks[task_name].apply_async()
    smtp_sink.wait_for(20, timeout=60)
    worker.kill()
    delivered_before = {mail.message["Message-ID"] for mail in smtp_sink.settled()}
    # In flight: taken by the mail server from the killed worker, not recorded as sent.
    in_flight = len(delivered_before & claimed_now())
    assert len(delivered_before) < total, "the kill came too late to test anything"

    # No sweep by hand and no beat: the new worker sweeps as it starts, and again once the
    # dead worker's claims have expired.
    replacement = WorkerProcess(env, tmp_path / "replacement-worker.log",
                                concurrency=CONCURRENCY)
    replacement.start()
    try:
        deadline = time.monotonic() + 90
        while len({m.message["Message-ID"] for m in smtp_sink.received}) < total:
            assert time.monotonic() < deadline, (len(smtp_sink.received), total)
            time.sleep(0.5)
        smtp_sink.settled()
    finally:
        replacement.stop()

    delivered = Counter(mail.message["Message-ID"] for mail in smtp_sink.received)
    assert set(delivered) == expected()  # nothing lost
    duplicates = sum(delivered.values()) - len(delivered)
    print(f"{drain}: in flight at the kill {in_flight}, duplicates {duplicates}")
    assert duplicates <= in_flight <= CONCURRENCY
    assert not claimed_now()
