"""Configuration, read from the environment only.

`CAMPAIGN_ENV` picks the class: `development` (the default, the embedded set-up:
SQLite, tasks in-process, mail to an outbox folder), `production` or `testing`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = Path(os.environ.get("INSTANCE_PATH", PROJECT_ROOT / "instance"))

# Checked at start-up in production: without these the app would send mail from a
# made-up address, sign sessions with a public key or lose tasks.
PRODUCTION_REQUIRED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "BASE_URL",
    "SMTP_URL",
    "MAIL_FROM",
    "ORG_NAME",
    "ORG_POSTAL_ADDRESS",
)

DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production
DEFAULT_STRIPE_JS_URL = "https://js.stripe.com/v3/"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return value.strip().lower() in ("1", "true", "yes", "on") if value else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_PATH / 'campaign.sqlite3'}"
    # Operators paste URLs from hosting dashboards; make them use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = _database_url()
    # A failed statement's bound parameters (a letter's text, a name, a town) must never
    # reach a log line or an exception message.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    BASE_URL = (os.environ.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    SMTP_URL = os.environ.get("SMTP_URL") or None
    CELERY_QUEUE = os.environ.get("CELERY_QUEUE") or "campaign"
    OUTBOX_DIR = os.environ.get("OUTBOX_DIR") or str(INSTANCE_PATH / "outbox")
    MAIL_FROM = os.environ.get("MAIL_FROM") or "Campaign demo <campaign@example.org>"
    ORG_NAME = os.environ.get("ORG_NAME") or "Campaign demo organisation"
    ORG_POSTAL_ADDRESS = os.environ.get("ORG_POSTAL_ADDRESS") or "1 Example Street, Example City"

    # Public POST limit per client address. Behind a proxy set PROXY_FIX_X_FOR to the
    # number of proxies, or every supporter shares the proxy's address and limit; the
    # forwarded address is believed only from TRUSTED_PROXIES (campaign.proxies says why).
    # Both are checked by create_app.
    SIGN_RATE_LIMIT = os.environ.get("SIGN_RATE_LIMIT") or "10/minute;100/hour"
    PROXY_FIX_X_FOR = os.environ.get("PROXY_FIX_X_FOR") or "0"
    TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES") or None
    # Strict-Transport-Security max-age; 0 sends none. Production's default is a year.
    HSTS_MAX_AGE_SECONDS = _env_int("HSTS_MAX_AGE_SECONDS", 0)
    # Failed staff sign-ins per client address: slows password guessing to a crawl.
    STAFF_LOGIN_RATE_LIMIT = os.environ.get("STAFF_LOGIN_RATE_LIMIT") or "5/minute;50/hour"
    # Failed sign-ins per staff account, wherever they come from: guesses at one account
    # from many addresses (or through a shared proxy) are slowed all the same.
    STAFF_LOGIN_ACCOUNT_RATE_LIMIT = (os.environ.get("STAFF_LOGIN_ACCOUNT_RATE_LIMIT")
                                      or "5/minute;20/hour")
    # A staff session ends after this long without a request, and this long after sign-in
    # whatever happens; signing out ends it on the server at once.
    STAFF_SESSION_IDLE_MINUTES = _env_int("STAFF_SESSION_IDLE_MINUTES", 30)
    STAFF_SESSION_MAX_HOURS = _env_int("STAFF_SESSION_MAX_HOURS", 12)

    # Signature counts on pages may be this stale; a count(*) per page per process per
    # window instead of a counter row that every signature would have to update.
    COUNT_CACHE_SECONDS = float(os.environ.get("COUNT_CACHE_SECONDS") or 1.0)
    PAGE_CACHE_SECONDS = float(os.environ.get("PAGE_CACHE_SECONDS") or 2.0)
    VIEW_FLUSH_SECONDS = float(os.environ.get("VIEW_FLUSH_SECONDS") or 5.0)

    # A claim on a letter or a thank-you older than this belonged to a dead worker: the
    # sweep (every minute, and when a worker starts) gives it to another. A live worker
    # renews its batch's claims every third of this, so it only has to outlast one send
    # (the SMTP timeout, 10 s by default, a few times over).
    LETTER_CLAIM_EXPIRES_SECONDS = float(os.environ.get("LETTER_CLAIM_EXPIRES_SECONDS") or 120)
    THANK_YOU_CLAIM_EXPIRES_SECONDS = float(
        os.environ.get("THANK_YOU_CLAIM_EXPIRES_SECONDS") or 120)
    # Retries of letters back off from this base.
    LETTER_RETRY_BASE_SECONDS = float(os.environ.get("LETTER_RETRY_BASE_SECONDS") or 30)
    LETTER_MAX_RETRIES = _env_int("LETTER_MAX_RETRIES", 10)
    DIGEST_EVERY_SECONDS = float(os.environ.get("DIGEST_EVERY_SECONDS") or 900)
    # A supporter's private link to their letters' status works this many days.
    LETTER_STATUS_LINK_DAYS = _env_int("LETTER_STATUS_LINK_DAYS", 90)

    # Where signers came from (?source=, UTM fields, referring site) is kept as counts per
    # page and day; only with this on is it also stored on each signature, tied to a person.
    ATTRIBUTION_PER_PERSON = _env_bool("ATTRIBUTION_PER_PERSON")

    # Delivery is "degraded" (/healthz and a notice on staff pages) when a drain failed
    # this many runs in a row, or a row has been due this long.
    DRAIN_FAILURES_ALERT = _env_int("DRAIN_FAILURES_ALERT", 3)
    DRAIN_BACKLOG_ALERT_SECONDS = float(os.environ.get("DRAIN_BACKLOG_ALERT_SECONDS") or 900)

    # Online giving (campaign.donations). No secret key: no donation page may go live.
    # STRIPE_API_BASE and STRIPE_JS_URL stay unset in production (Stripe's own); the tests
    # and the embedded demo point them at a local Stripe-compatible server.
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL") or DEFAULT_STRIPE_JS_URL
    # Printed on every receipt and yearly statement.
    RECEIPT_LEGAL_NAME = os.environ.get("RECEIPT_LEGAL_NAME") or None  # else ORG_NAME
    RECEIPT_TAX_ID = os.environ.get("RECEIPT_TAX_ID") or ""
    RECEIPT_DEDUCTIBILITY_TEXT = os.environ.get("RECEIPT_DEDUCTIBILITY_TEXT") or (
        "No goods or services were provided in exchange for this gift.")
    # A monthly gift ends after this many failed payments in a row (each one emails the
    # donor a link to update their card).
    DONATION_MAX_PAYMENT_FAILURES = _env_int("DONATION_MAX_PAYMENT_FAILURES", 3)
    # Claims on a webhook event being applied, and on a donor email being sent, expire
    # like a letter's (see LETTER_CLAIM_EXPIRES_SECONDS).
    STRIPE_EVENT_CLAIM_EXPIRES_SECONDS = float(
        os.environ.get("STRIPE_EVENT_CLAIM_EXPIRES_SECONDS") or 120)
    DONOR_EMAIL_CLAIM_EXPIRES_SECONDS = float(
        os.environ.get("DONOR_EMAIL_CLAIM_EXPIRES_SECONDS") or 120)
    # A webhook event that fails to apply (Stripe unreachable for its re-fetch, a bug) is
    # tried again with a growing wait, at most this many times, then left 'failed' with
    # its error for staff: one bad event must not hold up the others forever.
    DONATION_EVENT_MAX_ATTEMPTS = _env_int("DONATION_EVENT_MAX_ATTEMPTS", 8)
    # Card-testing defence, all before any PaymentIntent exists: gift forms per client
    # address, gift attempts per email address and hour, failed card confirmations per
    # visitor and hour, and the proof-of-work challenge's lifetime and cost.
    GIFT_RATE_LIMIT = os.environ.get("GIFT_RATE_LIMIT") or "5/minute;30/hour"
    GIFT_ATTEMPTS_PER_EMAIL_HOUR = _env_int("GIFT_ATTEMPTS_PER_EMAIL_HOUR", 5)
    GIFT_FAILED_CONFIRMATIONS_PER_HOUR = _env_int("GIFT_FAILED_CONFIRMATIONS_PER_HOUR", 3)
    GIFT_CHALLENGE_EXPIRES_SECONDS = _env_int("GIFT_CHALLENGE_EXPIRES_SECONDS", 600)
    GIFT_CHALLENGE_COST = _env_int("GIFT_CHALLENGE_COST", 5000)
    # The link in monthly receipts where a donor cancels or changes their gift works this
    # many days after the receipt (each month's receipt brings a fresh one).
    GIFT_MANAGE_LINK_DAYS = _env_int("GIFT_MANAGE_LINK_DAYS", 60)

    WTF_CSRF_TIME_LIMIT = None  # a page left open over lunch must still submit
    MAX_CONTENT_LENGTH = 64 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Wording of consents; a change of wording gets a new version so that every
    # recorded consent says exactly what the supporter saw.
    CONSENT_EMAIL_UPDATES_VERSION = "email-updates-2026-11"
    # How long the link in a thank-you email may confirm the supporter's opt-in.
    CONSENT_CONFIRM_EXPIRES_SECONDS = _env_int("CONSENT_CONFIRM_EXPIRES_SECONDS", 7 * 86400)


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class TestingConfig(Config):
    """What the test suite runs (tests/conftest.py sets CAMPAIGN_ENV=testing): errors
    reach the test instead of becoming 500 pages."""

    ENV_NAME = "testing"
    TESTING = True


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    HSTS_MAX_AGE_SECONDS = _env_int("HSTS_MAX_AGE_SECONDS", 365 * 24 * 3600)
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True,
                                 "pool_size": 10, "max_overflow": 10}


CONFIGS = {c.ENV_NAME: c for c in (DevelopmentConfig, TestingConfig, ProductionConfig)}


class ConfigurationError(RuntimeError):
    pass


def load_config(env_name: str | None = None) -> Config:
    env_name = env_name or os.environ.get("CAMPAIGN_ENV") or "development"
    try:
        config = CONFIGS[env_name]()
    except KeyError:
        raise ConfigurationError(
            f"CAMPAIGN_ENV={env_name!r} is not one of {', '.join(CONFIGS)}") from None
    if env_name == "production":
        missing = [name for name in PRODUCTION_REQUIRED if not os.environ.get(name)]
        if missing:
            raise ConfigurationError(
                "Refusing to start in production without: " + ", ".join(missing))
        if os.environ["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY or len(os.environ["SECRET_KEY"]) < 32:
            raise ConfigurationError("SECRET_KEY must be a random string of 32+ characters")
        check_stripe_settings(os.environ)
    return config


STRIPE_DEFAULT_API_BASE = "https://api.stripe.com"


def check_stripe_settings(environ) -> None:
    """A live key talks to Stripe itself and nothing else: with a live key, a changed
    API base or Stripe.js address would send real card payments somewhere else."""
    key = environ.get("STRIPE_SECRET_KEY") or ""
    if not key.startswith(("sk_live_", "rk_live_")):
        return
    base = (environ.get("STRIPE_API_BASE") or STRIPE_DEFAULT_API_BASE).rstrip("/")
    js_url = environ.get("STRIPE_JS_URL") or DEFAULT_STRIPE_JS_URL
    if base != STRIPE_DEFAULT_API_BASE or js_url != DEFAULT_STRIPE_JS_URL:
        raise ConfigurationError(
            "Refusing to start: STRIPE_SECRET_KEY is a live key but STRIPE_API_BASE or "
            "STRIPE_JS_URL is not Stripe's own. Unset both in production.")
