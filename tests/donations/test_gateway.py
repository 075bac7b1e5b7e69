"""The gateway: the only code that calls Stripe, idempotent creates, and the guard that keeps
a live key on Stripe's own servers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from campaign.config import ConfigurationError, check_stripe_settings
from campaign.donations.gateway import (
    gateway_from_config,
    invoice_payment_intent_id,
    subscription_period_end,
)
from tests.conftest import ROOT


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_gateway_imports_stripe_and_nothing_shipped_imports_localstripe():
    shipped = [*ROOT.joinpath("campaign").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")]
    callers = {p.relative_to(ROOT).as_posix() for p in shipped if "stripe" in _imports(p)}
    assert callers == {"campaign/donations/gateway.py"}
    # localstripe is GPL: it runs as its own process and is never imported by the product.
    assert not [p for p in shipped if "localstripe" in _imports(p)]


@pytest.mark.parametrize("environ", [
    {"STRIPE_SECRET_KEY": "sk_live_abc", "STRIPE_API_BASE": "http://127.0.0.1:8420"},
    {"STRIPE_SECRET_KEY": "rk_live_abc", "STRIPE_API_BASE": "https://stripe.example.net"},
    {"STRIPE_SECRET_KEY": "sk_live_abc", "STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/"},
])
def test_a_live_key_refuses_any_api_base_but_stripes_own(environ):
    with pytest.raises(ConfigurationError, match="live key"):
        check_stripe_settings(environ)


@pytest.mark.parametrize("environ", [
    {"STRIPE_SECRET_KEY": "sk_live_abc"},
    {"STRIPE_SECRET_KEY": "sk_live_abc", "STRIPE_API_BASE": "https://api.stripe.com/"},
    {"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_API_BASE": "http://127.0.0.1:8420"},
    {},
])
def test_test_keys_may_use_a_local_server_and_live_keys_stripe(environ):
    check_stripe_settings(environ)


def test_production_refuses_to_start_with_a_live_key_and_a_local_api_base(monkeypatch):
    from campaign.config import load_config

    for name, value in {"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/x",
                        "REDIS_URL": "redis://r", "BASE_URL": "https://example.org",
                        "SMTP_URL": "smtp://m", "MAIL_FROM": "a@example.org",
                        "ORG_NAME": "Org", "ORG_POSTAL_ADDRESS": "1 Street",
                        "STRIPE_SECRET_KEY": "sk_live_123",
                        "STRIPE_API_BASE": "http://127.0.0.1:9999"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match="live key"):
        load_config("production")


def test_a_retried_create_returns_the_same_stripe_object(app_settings):
    gateway = gateway_from_config(app_settings)
    first = gateway.create_payment_intent(424242, 2500, "usd", "a@example.org", "Gift", {})
    again = gateway.create_payment_intent(424242, 2500, "usd", "a@example.org", "Gift", {})
    assert first.id == again.id
    customer = gateway.create_customer(424243, "b@example.org", "B")
    assert gateway.create_customer(424243, "b@example.org", "B").id == customer.id


def test_shapes_of_both_apis_are_read_in_one_place():
    assert invoice_payment_intent_id({"payment_intent": "pi_old"}) == "pi_old"
    assert invoice_payment_intent_id(
        {"confirmation_secret": {"client_secret": "pi_new_secret_abc"}}) == "pi_new"
    assert invoice_payment_intent_id(
        {"payments": {"data": [{"payment": {"payment_intent": "pi_paid"}}]}}) == "pi_paid"
    assert subscription_period_end({"items": {"data": [{"current_period_end": 5}]}}) == 5
    assert subscription_period_end({"current_period_end": 7, "items": {"data": []}}) == 7
