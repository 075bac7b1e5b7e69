"""No personal data in any log line: not a database error's failing row or parameters,
not a supporter's private status link in an access log."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import urllib.request

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from campaign.extensions import db
from tests.conftest import ROOT
from tests.helpers import csrf_token
from tests.letters.conftest import status_path_of
from tests.servers import free_port, wait_for_port

PERSON = {"first_name": "Yeonmi", "last_name": "Quartzfield",
          "email": "yeonmi.quartzfield@example.org", "town": "Wonsanville",
          "postal_code": "KY16 9SS", "country": "GB"}
LETTER = "From Wonsanville, in confidence: please act."
NEEDLES = ("yeonmi", "quartzfield", "wonsanville", "ky16 9ss", "in confidence")


def log_everything(caplog) -> None:
    for name in (None, "sqlalchemy", "sqlalchemy.engine", "psycopg", "campaign", "werkzeug",
                 "flask-limiter"):
        caplog.set_level(logging.DEBUG, logger=name)


def everything_logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter()
    lines = []
    for record in records:
        lines += [record.getMessage(), repr(record.args), repr(record.__dict__)]
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines).lower()


@pytest.fixture
def refusing_constraint(app):
    """Makes PostgreSQL refuse this supporter's rows and this letter, as a real failure
    would: its error carries the failing row."""
    statements = [
        ("supporters", "CHECK (first_name <> 'Yeonmi')"),
        ("letters", "CHECK (body NOT LIKE '%in confidence%')"),
    ]

    def change(sql_for):
        with app.app_context():
            for table, check in statements:
                db.session.execute(text(sql_for(table, check)))
            db.session.commit()

    def add(table, check):
        return f"ALTER TABLE {table} ADD CONSTRAINT refuse_for_test {check}"

    def drop(table, check):
        return f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS refuse_for_test"

    change(add)
    yield
    change(drop)


def test_a_database_error_logs_no_personal_data(app, client, create_page, letter_page,
                                                refusing_constraint, caplog, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # logged, as in production
    petition = create_page()
    letters, _ = letter_page()
    log_everything(caplog)

    signed = client.post(f"/a/{petition}", data={"csrf_token": csrf_token(client, petition),
                                                 **PERSON})
    assert signed.status_code == 500
    data = {"csrf_token": csrf_token(client, letters), **PERSON, "first_name": "Min",
            "body": LETTER}
    assert client.post(f"/a/{letters}/letter/preview", data=data).status_code == 200
    assert client.post(f"/a/{letters}/letter/send", data=data).status_code == 500

    errors = [r for r in caplog.records if r.exc_info]
    assert len(errors) == 2  # both failures were logged, with their tracebacks
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    logged = everything_logged(caplog.records)
    assert "refuse_for_test" in logged  # what went wrong is still said
    for needle in NEEDLES:
        assert needle not in logged, needle


def status_path(app, client, letter_page) -> str:
    slug, _ = letter_page()
    data = {"csrf_token": csrf_token(client, slug), **PERSON, "body": "Please act."}
    client.post(f"/a/{slug}/letter/preview", data=data)
    sent = client.post(f"/a/{slug}/letter/send", data=data)
    assert sent.status_code == 303
    with app.app_context():
        action_id = db.session.scalar(text("SELECT max(id) FROM actions"))
    return status_path_of(app, action_id)


def get(url: str, path: str) -> int:
    request = urllib.request.Request(url, headers={"Referer": f"http://campaign.test{path}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_the_development_server_logs_no_status_link(app, client, letter_page, caplog):
    path = status_path(app, client, letter_page)
    token = path.removeprefix("/letters/")
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    log_everything(caplog)
    try:
        assert get(f"http://127.0.0.1:{server.port}{path}?sent=1", path) == 200
    finally:
        server.shutdown()
        thread.join()
    logged = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /letters/<redacted>?sent=1" in line for line in logged), logged
    assert token.lower() not in everything_logged(caplog.records)


def test_gunicorn_logs_no_status_link(app, client, letter_page, worker_env, tmp_path):
    """Real gunicorn with our logger class (gunicorn.conf.py names it) and an access log
    of every field that can carry a path: request line, path, query, Referer."""
    path = status_path(app, client, letter_page)
    token = path.removeprefix("/letters/")
    port = free_port()
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    empty_config = tmp_path / "gunicorn.conf.py"
    empty_config.write_text("")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(empty_config), "-w", "1",
         "--bind", f"127.0.0.1:{port}",
         "--logger-class", "campaign.common.logging.GunicornLogger",
         "--access-logfile", str(access_log), "--error-logfile", str(error_log),
         "--access-logformat",
         '%(h)s "%(r)s" %(U)s %(q)s %(s)s "%(f)s" "%(a)s" %({x-missing}i)s',
         "wsgi:app"],
        cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        assert get(f"http://127.0.0.1:{port}{path}?sent=1", path) == 200
    finally:
        server.terminate()
        server.wait(30)
    logged = access_log.read_text()
    assert '"GET /letters/<redacted>?sent=1 HTTP/1.1" /letters/<redacted> sent=1 200 ' \
           '"http://campaign.test/letters/<redacted>" "Python-urllib' in logged, logged
    assert token not in logged + error_log.read_text()
