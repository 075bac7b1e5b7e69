"""Online giving through Stripe: the donation page kind, the card step, the webhook-driven
ledger, receipts and donor emails, self-service for monthly donors, and the staff's money
pages. campaign.donations.gateway is the only module that calls Stripe."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Everything giving adds to the app; called by create_app after the page kinds."""
    from campaign.donations.gateway import init_gateway

    init_gateway(app)
    from campaign.donations.webhook import WebhookFastPath, webhook_bp

    app.register_blueprint(webhook_bp)
    app.wsgi_app = WebhookFastPath(app.wsgi_app, app)
