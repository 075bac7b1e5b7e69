"""The README's run command, end to end: the embedded default on a fresh instance folder."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from email import message_from_bytes
from email.policy import default as default_policy

from tests.conftest import ROOT
from tests.servers import free_port


def test_run_command_serves_the_demo_and_mails_the_thank_you_to_the_outbox(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "OUTBOX_DIR", "CAMPAIGN_ENV")}
    env.update({"INSTANCE_PATH": str(tmp_path / "instance"), "PORT": str(port)})
    log = open(tmp_path / "run.log", "wb")
    process = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        NoRedirect())
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = opener.open(f"{base}/healthz", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "run.log").read_text()[-3000:])
                time.sleep(0.3)
        assert health.status == 200

        index = opener.open(f"{base}/").read().decode()
        assert "/a/stop-forced-repatriation" in index
        page = opener.open(f"{base}/a/stop-forced-repatriation").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({
            "csrf_token": token, "first_name": "Sun", "last_name": "Kim",
            "email": "sun.kim@example.org", "postal_code": "10001", "country": "US",
        }).encode()
        response = opener.open(urllib.request.Request(
            f"{base}/a/stop-forced-repatriation", data=form, method="POST"))
        assert response.status == 303

        # Giving with no Stripe account: the demo's donation page says payments are
        # simulated, and its amount step opens a card step.
        donation = opener.open(f"{base}/a/fund-the-work").read().decode()
        assert "Payments on this site are simulated: no card is charged." in donation
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', donation).group(1)
        gift = urllib.parse.urlencode({
            "csrf_token": token, "amount": "25", "currency": "usd", "frequency": "one_time",
            "first_name": "Sun", "last_name": "Kim", "email": "sun.kim@example.org",
        }).encode()
        response = opener.open(urllib.request.Request(
            f"{base}/a/fund-the-work/give", data=gift, method="POST"))
        assert response.status == 303
        card_step = response.headers["Location"]
        assert re.fullmatch(r"/give/[A-Za-z0-9_-]+", card_step)
        page = opener.open(f"{base}{card_step}").read().decode()
        assert "Payments on this site are simulated: no card is charged." in page
        assert "/js.stripe.com/v3/" in page

        outbox = tmp_path / "instance" / "outbox"
        assert (tmp_path / "instance" / "campaign.sqlite3").exists()
        [eml] = list(outbox.glob("*.eml"))
        message = message_from_bytes(eml.read_bytes(), policy=default_policy)
        assert message["To"] == "Sun Kim <sun.kim@example.org>"
        assert "Dear Sun," in message.get_body(("plain",)).get_content()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

    def http_error_303(self, req, fp, code, msg, headers):
        return fp
