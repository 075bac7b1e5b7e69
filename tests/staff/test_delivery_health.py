"""Delivery that cannot stall unseen: a letter that cannot be handled fails alone, and a
drain that keeps failing, or a backlog that grows old, shows on /healthz and staff pages."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campaign.extensions import db
from tests.staff.conftest import page_text


def run_here(app, name: str):
    with app.app_context():
        return app.extensions["celery"].tasks[name].apply()


def test_a_letter_that_cannot_be_handled_fails_alone_and_the_rest_go_out(
        app, letter_page, write_letters, smtp_sink, query):
    broken, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    healthy, _ = letter_page(targets=[("UN Mission", "Representative", "mission@example.org")])
    broken_ids = write_letters(broken, count=3)
    healthy_ids = write_letters(healthy, count=3)
    with app.app_context():  # letters whose page lost its settings cannot be capped or sent
        db.session.execute(text("DELETE FROM letter_settings WHERE action_page_id = "
                                "(SELECT action_page_id FROM letters WHERE id = :id)"),
                           {"id": broken_ids[0]})
        db.session.commit()

    result = run_here(app, "letters.deliver")
    assert result.successful(), result.traceback
    assert result.result == 3
    assert len(smtp_sink.wait_for(3)) == 3
    statuses = dict(query("SELECT id, status FROM letters"))
    assert [statuses[i] for i in healthy_ids] == ["sent"] * 3
    assert [statuses[i] for i in broken_ids] == ["failed"] * 3
    [(error,)] = query("SELECT DISTINCT last_error FROM letters WHERE status = 'failed'")
    assert error.startswith("could not be handled: AttributeError")
    assert query("SELECT name, failures_in_a_row FROM drain_states") == [
        ("letters.deliver", 0)]
    assert run_here(app, "letters.deliver").result == 0  # nothing left to trip over


@pytest.fixture
def cap_windows_gone(app):
    """The table every emailed letter's claim needs, renamed away: each delivery run fails
    as a whole, as it would with a broken database."""
    with app.app_context():
        db.session.execute(text("ALTER TABLE letter_cap_windows RENAME TO cap_windows_away"))
        db.session.commit()
    yield
    with app.app_context():
        db.session.execute(text("ALTER TABLE cap_windows_away RENAME TO letter_cap_windows"))
        db.session.commit()


def test_a_drain_that_keeps_failing_is_degraded_on_healthz_and_staff_pages(
        app, client, letter_page, write_letters, create_staff, log_in, cap_windows_gone):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    write_letters(slug)
    for run in range(app.config["DRAIN_FAILURES_ALERT"]):
        assert client.get("/healthz").json["status"] == "ok"
        assert run_here(app, "letters.deliver").failed()

    health = client.get("/healthz")
    assert health.status_code == 200  # the web app itself is fine
    assert health.json["status"] == "degraded"
    [problem] = health.json["delivery"]
    assert problem["drain"] == "letters.deliver"
    assert problem["problem"] == "3 runs in a row failed"
    assert "letter_cap_windows" in problem["error"]

    create_staff()
    assert log_in().status_code == 303
    staff_page = page_text(client.get("/staff/"))
    assert "Delivery problem: letters.deliver" in staff_page
    assert "letter_cap_windows" in staff_page


def test_a_backlog_older_than_the_threshold_is_degraded_until_delivered(
        app, client, letter_page, write_letters):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org")])
    [letter_id] = write_letters(slug)
    assert client.get("/healthz").json["status"] == "ok"
    with app.app_context():  # nobody delivered it for 20 minutes: workers are down
        db.session.execute(text("UPDATE letters SET created_at = now() - interval "
                                "'20 minutes' WHERE id = :id"), {"id": letter_id})
        db.session.commit()
    health = client.get("/healthz").json
    assert health["status"] == "degraded"
    assert [(p["drain"], p["problem"]) for p in health["delivery"]] == [
        ("letters.deliver", "rows waiting longer than they should")]

    assert run_here(app, "letters.deliver").result == 1
    assert client.get("/healthz").json == {"database": "ok", "redis": "ok", "delivery": [],
                                           "status": "ok"}
