"""Online giving through Stripe: the donation page kind, the card step, the webhook-driven
ledger, receipts and donor emails, self-service for monthly donors, and the staff's money
pages. campaign.donations.gateway is the only module that calls Stripe."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Everything giving adds to the app; called by create_app after the page kinds."""
    from campaign.donations.gateway import init_gateway

    init_gateway(app)
    from campaign.donations.kind import register as register_donation_kind

    register_donation_kind(app)
    from campaign.donations.calls import bp as gift_calls_bp
    from campaign.donations.settings_views import bp as giving_staff_bp
    from campaign.donations.views import bp as donations_bp

    app.register_blueprint(donations_bp)
    app.register_blueprint(gift_calls_bp)
    app.register_blueprint(giving_staff_bp)
    from campaign.donations.ask import register_gift_ask

    register_gift_ask(app)
    from campaign.donations import money
    from campaign.donations.forms import offered_frequencies, percent_text

    app.add_template_filter(money.format_money, "money")
    app.add_template_filter(money.plain, "plain_money")
    app.add_template_global(money.fee_for, "fee_for")
    app.add_template_global(offered_frequencies, "offered_frequencies")
    app.add_template_filter(percent_text, "percent")
