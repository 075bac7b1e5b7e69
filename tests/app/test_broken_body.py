"""A request body the server cannot read is the client's mistake: 400, never 500.

Through real gunicorn and a raw socket: gunicorn decodes the chunked encoding itself and
raises its own errors from a read, which the test client cannot reproduce."""

from __future__ import annotations

import html
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from campaign.common.input import BROKEN_BODY_MESSAGE
from tests.conftest import ROOT
from tests.servers import free_port, wait_for_port

HEAD = ("POST {path} HTTP/1.1\r\nHost: campaign.test\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n")
CHUNKED = HEAD + "Transfer-Encoding: chunked\r\n\r\n"


@pytest.fixture(scope="module")
def gunicorn_port(app, worker_env: dict, tmp_path_factory) -> Iterator[int]:
    port = free_port()
    log = open(tmp_path_factory.mktemp("gunicorn") / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def answer_to(port: int, request: bytes, close_after: bool = False) -> tuple[int, str]:
    """The status code and the body of the answer to `request`, sent as raw bytes;
    `close_after` ends the sending side at once, as a client that stops in the middle of
    its body."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request)
        if close_after:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while data := connection.recv(65536):
            received += data
    head, _, body = received.decode().partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), html.unescape(body)


@pytest.mark.parametrize("path", ["/staff/login", "/a/any-page", "/a/any-page/letter/preview"])
@pytest.mark.parametrize(("body", "close_after"), [
    ("zz\r\nemail=x\r\n0\r\n\r\n", False),        # a chunk size that is not hexadecimal
    ("5\r\nemail=x\r\n0\r\n\r\n", False),         # a chunk longer than its size says
    ("5\r\nemail\r\n0\r\nX", True),               # no final CRLF after the last chunk
    ("ffff\r\nemail=", True),                     # the client stops inside a chunk
])
def test_a_broken_chunked_body_is_a_400(gunicorn_port, path, body, close_after):
    request = (CHUNKED.format(path=path) + body).encode()
    status, text = answer_to(gunicorn_port, request, close_after)
    assert status == 400
    assert BROKEN_BODY_MESSAGE in text


def test_a_body_shorter_than_its_content_length_is_a_400(gunicorn_port):
    request = (HEAD.format(path="/staff/login") + "Content-Length: 100\r\n\r\nemail=x").encode()
    status, _ = answer_to(gunicorn_port, request, close_after=True)
    assert status == 400


@pytest.mark.parametrize("body", ["7\r\nemail=x\r\n0\r\n\r\n", "0\r\n\r\n"])
def test_a_good_chunked_body_is_read(gunicorn_port, body):
    # Read, and refused only for what it lacks: the form's CSRF token.
    status, text = answer_to(gunicorn_port, (CHUNKED.format(path="/staff/login") + body).encode())
    assert status == 400
    assert "Your form expired" in text
