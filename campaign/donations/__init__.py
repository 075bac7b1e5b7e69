"""Online giving through Stripe: the donation page kind, the card step, the webhook-driven
ledger, receipts and donor emails, self-service for monthly donors, and the staff's money
pages. campaign.donations.gateway is the only module that calls Stripe."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Everything giving adds to the app; called by create_app after the page kinds."""
    from campaign.donations import money
    from campaign.donations.ask import register_gift_ask
    from campaign.donations.calls import bp as gift_calls_bp
    from campaign.donations.forms import offered_frequencies, percent_text
    from campaign.donations.gateway import init_gateway
    from campaign.donations.kind import register as register_donation_kind
    from campaign.donations.manage import bp as manage_bp
    from campaign.donations.settings_views import bp as giving_staff_bp
    from campaign.donations.views import bp as donations_bp

    init_gateway(app)
    register_donation_kind(app)
    app.register_blueprint(donations_bp)
    app.register_blueprint(gift_calls_bp)
    app.register_blueprint(giving_staff_bp)
    # A monthly donor's own pages, by the signed links in their emails.
    app.register_blueprint(manage_bp)
    # The ask for a gift on the thank-you step of other pages of the campaign.
    register_gift_ask(app)
    # {{ donation.amount|money(donation.currency) }} on every page that shows money.
    app.add_template_filter(money.format_money, "money")
    app.add_template_filter(money.plain, "plain_money")
    app.add_template_global(money.fee_for, "fee_for")
    app.add_template_global(offered_frequencies, "offered_frequencies")
    app.add_template_filter(percent_text, "percent")
    # Stripe's events: stored by the webhook (answered before Flask when it can), applied
    # by a worker.
    from campaign.donations.webhook import WebhookFastPath, webhook_bp

    app.register_blueprint(webhook_bp)
    app.wsgi_app = WebhookFastPath(app.wsgi_app, app)
    register_staff(app)


def register_staff(app: Flask) -> None:
    """The staff's money pages, and giving's parts of staff pages it does not own: money
    on a page's report, a donor's gifts on their supporter page, and erasure."""
    from campaign.donations.erasure import erase_gifts_of
    from campaign.donations.staff_reports import donor_gifts, page_money
    from campaign.donations.staff_views import bp as donations_staff_bp
    from campaign.staff.shell import PAGE_REPORT_SECTIONS, SUPPORTER_SECTIONS, add_section
    from campaign.supporters.erasure import add_eraser

    app.register_blueprint(donations_staff_bp)
    add_section(app, PAGE_REPORT_SECTIONS, "donations/staff/_page_money.html", page_money)
    add_section(app, SUPPORTER_SECTIONS, "donations/staff/_donor_gifts.html", donor_gifts)
    add_eraser(app, erase_gifts_of)
