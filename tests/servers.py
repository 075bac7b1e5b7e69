"""Throwaway PostgreSQL and Redis servers for the test session, and an SMTP sink.

When TEST_DATABASE_URL / TEST_REDIS_URL are set those servers are used instead; the
tests then create (and drop) a database of their own on the PostgreSQL server and keep
to key prefixes and queues of their own on Redis.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package "
                           "or set TEST_DATABASE_URL")
    return path


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder, on a free loopback port, durability off."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="campaign-pg-")
        self.data = os.path.join(self.dir, "data")
        # initdb refuses to run as root; the postgresql package brings a postgres user.
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_user:
            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run([*self._as_user, _postgres_bin("initdb"), "-D", self.data, "-U",
                        "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True)
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        subprocess.run([*self._as_user, _postgres_bin("pg_ctl"), "-D", self.data, "-o", options,
                        "-l", os.path.join(self.dir, "log"), "-w", "start"],
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self._as_user, _postgres_bin("pg_ctl"), "-D", self.data, "-m",
                        "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        """Stops and starts the server on the same port: everything in it is lost."""
        self.stop()
        self.start()


@contextmanager
def served(app) -> Iterator[str]:
    """`app` served over real HTTP on loopback from a thread; yields its origin."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


class LocalStripe:
    """A local Stripe-compatible server (tests/tools/localstripe_local.py) on a free
    loopback port, for the session: the official SDK and the test browser talk to it.
    Its webhooks are signed with `webhook_secret` and sent where `send_webhooks_to` says."""

    LAUNCHER = os.path.join(os.path.dirname(__file__), "tools", "localstripe_local.py")
    secret_key = "sk_test_campaign_local"
    publishable_key = "pk_test_campaign_local"
    webhook_secret = "whsec_campaign_tests"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        return f"{self.api_base}/js.stripe.com/v3/"

    def settings(self) -> dict:
        return {"STRIPE_SECRET_KEY": self.secret_key,
                "STRIPE_PUBLISHABLE_KEY": self.publishable_key,
                "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
                "STRIPE_API_BASE": self.api_base, "STRIPE_JS_URL": self.js_url}

    def start(self) -> None:
        import sys

        self.process = subprocess.Popen(
            [sys.executable, self.LAUNCHER, "--port", str(self.port), "--store", "-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def send_webhooks_to(self, url: str | None, events: list[str] | None = None) -> None:
        """Registers (or, with None, points nowhere useful) the one webhook endpoint."""
        import json
        import urllib.request

        body = {"url": url or "http://127.0.0.1:9/", "secret": self.webhook_secret}
        if events:
            body["events"] = events
        request = urllib.request.Request(
            f"{self.api_base}/_config/webhooks/campaign", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def flush(self) -> None:
        """Wipes every object (webhook registrations stay)."""
        import urllib.request

        request = urllib.request.Request(f"{self.api_base}/_config/data", method="DELETE")
        urllib.request.urlopen(request, timeout=10).read()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data, policy=default_policy)


@dataclass
class SinkHandler:
    """Records what it is sent; `script` holds replies to give to the next DATA commands
    (e.g. "451 4.3.0 try later") before it goes back to accepting."""

    received: list[ReceivedMail] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Seconds each message takes to accept, to keep work in flight for crash tests.
    delay: float = 0.0
    # Messages whose DATA arrived and that are not yet recorded (in their delay).
    accepting: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        with self.lock:
            self.accepting += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            with self.lock:
                if self.script:
                    return self.script.pop(0)
                self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                                  envelope.original_content or envelope.content))
            return "250 2.0.0 OK"
        finally:
            with self.lock:
                self.accepting -= 1


class SMTPSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.received)

    def reply_next(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.script.extend(replies)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.script.clear()
            self.handler.delay = 0.0

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.received
            if len(received) >= count:
                return received
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} messages, got {len(self.received)}")

    def settled(self, quiet: float = 0.5, timeout: float = 30.0) -> list[ReceivedMail]:
        """What was received once nothing is being accepted and nothing new has arrived
        for `quiet` seconds. A killed client's last message is still recorded after the
        kill when its DATA was sent: it sits in the server's buffer or in `delay`."""
        deadline = time.monotonic() + timeout
        count, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self.handler.lock:
                received, accepting = list(self.handler.received), self.handler.accepting
            if accepting or len(received) != count:
                count, since = len(received), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return received
            time.sleep(0.05)
        raise TimeoutError(f"the SMTP sink kept receiving for {timeout} s")

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
