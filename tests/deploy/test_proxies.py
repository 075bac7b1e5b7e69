"""The client address that rate limits see, with and without a proxy in front."""

from __future__ import annotations

import logging

import pytest

from campaign import create_app
from campaign.config import ConfigurationError
from tests.app.test_config import PRODUCTION_ENV
from tests.helpers import csrf_token, valid_signature

DIRECT_CLIENT = "198.51.100.9"  # a public address: a client that reached gunicorn itself
PROXY = "172.18.0.5"  # where docker-compose's nginx sits, on the compose network


def limited_app(app_settings: dict, **settings):
    return create_app({**app_settings, "SIGN_RATE_LIMIT": "3/minute", **settings})


def flood(client, slug: str, remote_addr: str, forwarded_for, count: int,
          who: str = "flood") -> list[int]:
    """`count` signatures, each with a fresh email and (for a forged flood) its own
    X-Forwarded-For; the answers' status codes."""
    token = csrf_token(client, slug)
    codes = []
    for n in range(count):
        headers = {"X-Forwarded-For": forwarded_for(n)} if forwarded_for else {}
        response = client.post(f"/a/{slug}", headers=headers,
                               environ_base={"REMOTE_ADDR": remote_addr},
                               data={"csrf_token": token,
                                     **valid_signature(email=f"{who}-{n}@example.org")})
        codes.append(response.status_code)
    return codes


def test_a_direct_client_forging_x_forwarded_for_still_meets_the_sign_limit(
        app_settings, create_page):
    app = limited_app(app_settings, PROXY_FIX_X_FOR=1)
    slug = create_page()
    codes = flood(app.test_client(), slug, DIRECT_CLIENT, lambda n: f"203.0.113.{n}", 8)
    assert codes == [303] * 3 + [429] * 5


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(app_settings, create_page):
    app = limited_app(app_settings, PROXY_FIX_X_FOR=1)
    slug = create_page()
    client = app.test_client()
    # Eight supporters through the one proxy: none is held back by the others.
    assert flood(client, slug, PROXY, lambda n: f"203.0.113.{n}", 8) == [303] * 8
    # One supporter sending too much is, whatever the proxy's own address.
    assert flood(client, slug, PROXY, lambda n: "203.0.113.200", 4,
                 who="one") == [303] * 3 + [429]


def test_forwarded_headers_from_an_untrusted_address_are_dropped(app_settings):
    seen = {}
    app = create_app({**app_settings, "PROXY_FIX_X_FOR": 1})

    @app.get("/test-only/where")
    def where():
        from flask import request

        seen.update(addr=request.remote_addr, scheme=request.scheme, host=request.host,
                    forwarded=request.headers.get("X-Forwarded-For"))
        return "ok"

    client = app.test_client()
    forged = {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "https",
              "X-Forwarded-Host": "evil.example"}
    client.get("/test-only/where", headers=forged, environ_base={"REMOTE_ADDR": DIRECT_CLIENT})
    assert seen == {"addr": DIRECT_CLIENT, "scheme": "http", "host": "localhost",
                    "forwarded": None}
    client.get("/test-only/where", headers=forged, environ_base={"REMOTE_ADDR": PROXY})
    assert seen["addr"] == "203.0.113.1" and seen["scheme"] == "https"


def proxy_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "campaign.proxies"]


def test_a_proxy_without_the_setting_is_reported_once(app_settings, caplog, monkeypatch):
    # The session's migrations ran Alembic's fileConfig, which disables existing loggers.
    monkeypatch.setattr(logging.getLogger("campaign.proxies"), "disabled", False)
    app = create_app({**app_settings, "PROXY_FIX_X_FOR": 0})
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="campaign.proxies"):
        client.get("/healthz", environ_base={"REMOTE_ADDR": DIRECT_CLIENT},
                   headers={"X-Forwarded-For": "203.0.113.1"})
        assert not proxy_warnings(caplog)  # a client's own header says nothing about a proxy
        for _ in range(3):
            client.get("/healthz", environ_base={"REMOTE_ADDR": PROXY},
                       headers={"X-Forwarded-For": "203.0.113.1"})
    [record] = proxy_warnings(caplog)
    assert "PROXY_FIX_X_FOR" in record.getMessage()
    assert "203.0.113.1" not in record.getMessage() and PROXY not in record.getMessage()


@pytest.mark.parametrize("value", ["yes", "-1", "1.5", " "])
def test_a_proxy_count_that_is_not_a_whole_number_is_refused(app_settings, value):
    with pytest.raises(ConfigurationError, match="PROXY_FIX_X_FOR"):
        create_app({**app_settings, "PROXY_FIX_X_FOR": value})


def test_trusted_proxies_must_be_addresses_or_networks(app_settings):
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        create_app({**app_settings, "PROXY_FIX_X_FOR": 1, "TRUSTED_PROXIES": "nginx"})


def test_production_refuses_to_trust_every_address(monkeypatch, app_settings):
    for name, value in {**PRODUCTION_ENV, "CAMPAIGN_ENV": "production"}.items():
        monkeypatch.setenv(name, value)
    for everyone in ("0.0.0.0/0", "10.0.0.0/8, ::/0"):
        with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
            create_app({**app_settings, "PROXY_FIX_X_FOR": 1, "TRUSTED_PROXIES": everyone})
    # Without forwarded addresses nothing is trusted, so nothing is refused.
    create_app({**app_settings, "PROXY_FIX_X_FOR": 0, "TRUSTED_PROXIES": "0.0.0.0/0"})
