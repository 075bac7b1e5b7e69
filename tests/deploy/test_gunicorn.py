"""Real gunicorn with the shipped gunicorn.conf.py: slow clients do not take the site down.

Each slow client sends a sign form's headers and the first bytes of a body it says is
longer, then stalls, as in issue 10. With the old set-up (`gunicorn -w 4 wsgi:app`, sync
workers) four such clients held every worker until gunicorn killed it 30 s later.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.conftest import ROOT
from tests.helpers import wait_until
from tests.servers import free_port

SLOW_CLIENTS = 8
# How long the test waits for an answer: far longer than a served request takes, far
# shorter than the 30 s for which stalled clients held every sync worker.
ANSWER_WITHIN = 15


@contextmanager
def gunicorn(worker_env: dict, log_path: Path, **settings: str) -> Iterator[int]:
    """`gunicorn -c gunicorn.conf.py wsgi:app` on a free loopback port, as the README runs it."""
    port = free_port()
    env = {**worker_env, "GUNICORN_BIND": f"127.0.0.1:{port}",
           "SIGN_RATE_LIMIT": "1000/minute", **settings}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: process.poll() is not None or get(port, "/healthz") == 200,
                   timeout=60, message="gunicorn to answer")
        assert process.poll() is None, log_path.read_text()[-3000:]
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def get(port: int, path: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=ANSWER_WITHIN) as response:
            return response.status
    except OSError:
        return None


def stalled_sign_form(port: int, slug: str) -> socket.socket:
    """A client that sends the headers and 20 of the 10,000 body bytes it announces."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
    sock.sendall(f"POST /a/{slug} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\n"
                 "Content-Length: 10000\r\n\r\nfirst_name=Ji-woo&la".encode())
    return sock


def still_waiting(sock: socket.socket) -> bool:
    """No answer and no close yet: the server is still waiting for this client's body."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)


def test_a_page_is_served_while_slow_clients_hold_connections(app, create_page, worker_env,
                                                              tmp_path):
    slug = create_page()
    # The read timeout outlasts the test: the slow clients hold their connections
    # throughout, and the page must be served beside them.
    with gunicorn(worker_env, tmp_path / "gunicorn.log", GUNICORN_READ_TIMEOUT="600") as port, \
            ExitStack() as stack:
        slow = [stack.enter_context(stalled_sign_form(port, slug))
                for _ in range(SLOW_CLIENTS)]
        assert get(port, f"/a/{slug}") == 200
        assert get(port, "/healthz") == 200
        assert all(still_waiting(sock) for sock in slow)


def test_a_body_that_stops_arriving_is_answered_408_and_its_thread_freed(
        app, create_page, worker_env, tmp_path):
    slug = create_page()
    log = tmp_path / "gunicorn.log"
    with gunicorn(worker_env, log, GUNICORN_READ_TIMEOUT="1", GUNICORN_WORKERS="1",
                  GUNICORN_THREADS="2") as port:
        for _ in range(2):  # as many as the worker has threads: each is freed in turn
            with stalled_sign_form(port, slug) as sock:
                answer = sock.makefile("rb").readline()
            assert answer.startswith(b"HTTP/1.1 408"), answer
        assert get(port, f"/a/{slug}") == 200
    assert "Traceback" not in log.read_text()
