"""The card step's Content-Security-Policy: the strict one of campaign.security, opened
for Stripe.js (script and frames) and Stripe's API (connect), and for nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from campaign.config import STRIPE_DEFAULT_API_BASE
from campaign.security import CONTENT_SECURITY_POLICY

# Stripe.js opens its 3-D Secure and card frames from these (Stripe's CSP guide).
STRIPE_FRAME_ORIGINS = ("https://js.stripe.com", "https://hooks.stripe.com")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def card_step_policy(config: dict) -> str:
    js = _origin(config["STRIPE_JS_URL"])
    api = _origin(config.get("STRIPE_API_BASE") or STRIPE_DEFAULT_API_BASE)
    frames = " ".join(dict.fromkeys((js, *STRIPE_FRAME_ORIGINS)))
    connect = " ".join(dict.fromkeys((js, api)))
    return (CONTENT_SECURITY_POLICY
            .replace("script-src 'self'", f"script-src 'self' {js}")
            .replace("connect-src 'self'", f"connect-src 'self' {connect}")
            .replace("frame-ancestors", f"frame-src {frames}; frame-ancestors"))
