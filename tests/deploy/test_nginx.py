"""Real nginx with the committed deploy/nginx.conf in front of real gunicorn.

Only the addresses change (the upstream and the port, which are compose's service names
in the file) and the temporary folders move into the test's own; every other directive
is the file's.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.deploy.test_gunicorn import SLOW_CLIENTS, get, gunicorn, stalled_sign_form
from tests.helpers import CSRF_PATTERN, valid_signature, wait_until
from tests.servers import free_port

TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert found, "nginx is missing: bash scripts/test.sh installs it (apt-get install nginx)"
    return found


def config_for_test(upstream_port: int, port: int, folder: Path) -> str:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text, upstreams = re.subn(r"server web:8000;", f"server 127.0.0.1:{upstream_port};", text)
    text, listens = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    assert upstreams == 1 and listens == 1, "deploy/nginx.conf's addresses changed"
    temp = "".join(f"    {name}_temp_path {folder / name};\n" for name in TEMP_PATHS)
    return text.replace("http {\n", "http {\n" + temp, 1)


@contextmanager
def nginx(upstream_port: int, folder: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(config_for_test(upstream_port, port, folder))
    globals_ = f"pid {folder / 'nginx.pid'};"
    if os.geteuid() == 0:  # workers would drop to a user that cannot write the temp folders
        globals_ += " user root;"
    log = folder / "nginx.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([nginx_binary(), "-c", str(config),
                                    "-g", globals_ + " daemon off;"],
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until(lambda: process.poll() is not None or get(port, "/healthz") == 200,
                   timeout=30, message="nginx to answer")
        assert process.poll() is None, log.read_text()[-3000:]
        yield port, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


@pytest.fixture
def stack(app, worker_env, tmp_path):
    """gunicorn (one worker of two threads, so that a few held requests would starve it)
    behind nginx; yields (nginx's port, nginx's log, gunicorn's log)."""
    gunicorn_log = tmp_path / "gunicorn.log"
    with gunicorn(worker_env, gunicorn_log, PROXY_FIX_X_FOR="1", GUNICORN_WORKERS="1",
                  GUNICORN_THREADS="2", SIGN_RATE_LIMIT="3/minute") as upstream, \
            nginx(upstream, tmp_path) as (port, nginx_log):
        yield port, nginx_log, gunicorn_log


def test_nginx_holds_slow_clients_so_gunicorn_never_waits_for_them(stack, create_page):
    port, _, gunicorn_log = stack
    slug = create_page()
    with ExitStack() as held:
        for _ in range(SLOW_CLIENTS):
            held.enter_context(stalled_sign_form(port, slug))
        for _ in range(3):
            assert get(port, f"/a/{slug}") == 200
    # gunicorn never saw the slow requests: nginx waits for a whole body before passing it.
    assert "POST" not in gunicorn_log.read_text()


class Browser:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def test_a_client_forging_x_forwarded_for_through_nginx_meets_the_sign_limit(stack,
                                                                             create_page):
    port, _, _ = stack
    slug = create_page()
    browser = Browser(port)
    status, page = browser.open(f"/a/{slug}")
    token = CSRF_PATTERN.search(page).group(1)
    codes = []
    for n in range(5):
        status, _ = browser.open(
            f"/a/{slug}", headers={"X-Forwarded-For": f"203.0.113.{n}"},
            data={"csrf_token": token, **valid_signature(email=f"forged-{n}@example.org")})
        codes.append(status)
    # Each signature redirects to the thanks page (200 once followed) until the limit.
    assert codes == [200, 200, 200, 429, 429]


def test_nginx_logs_no_client_address_and_no_status_link(stack):
    port, nginx_log, _ = stack
    get(port, "/letters/secret-status-token")
    get(port, "/healthz?source=someone")
    logged = wait_until(lambda: "/letters/" in nginx_log.read_text() and nginx_log.read_text(),
                        timeout=10, message="nginx's access log")
    assert '"GET /letters/-"' in logged
    assert "secret-status-token" not in logged and "someone" not in logged
    assert "127.0.0.1" not in logged
