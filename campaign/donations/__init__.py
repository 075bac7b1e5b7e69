"""Online giving through Stripe: the donation page kind, the card step, the webhook-driven
ledger, receipts and donor emails, self-service for monthly donors, and the staff's money
pages. campaign.donations.gateway is the only module that calls Stripe."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Everything giving adds to the app; called by create_app after the page kinds."""
    from campaign.donations.gateway import init_gateway

    init_gateway(app)
    from campaign.donations.manage import bp as manage_bp

    # A monthly donor's own pages, by the signed links in their emails.
    app.register_blueprint(manage_bp)
    register_staff(app)


def register_staff(app: Flask) -> None:
    """The staff's money pages, and giving's parts of staff pages it does not own: money
    on a page's report, a donor's gifts on their supporter page, and erasure."""
    from campaign.donations.erasure import erase_gifts_of
    from campaign.donations.money import format_money
    from campaign.donations.staff_reports import donor_gifts, page_money
    from campaign.donations.staff_views import bp as donations_staff_bp
    from campaign.staff.shell import PAGE_REPORT_SECTIONS, SUPPORTER_SECTIONS, add_section
    from campaign.supporters.erasure import add_eraser

    app.register_blueprint(donations_staff_bp)
    add_section(app, PAGE_REPORT_SECTIONS, "donations/staff/_page_money.html", page_money)
    add_section(app, SUPPORTER_SECTIONS, "donations/staff/_donor_gifts.html", donor_gifts)
    add_eraser(app, erase_gifts_of)
    # {{ donation.amount|money(donation.currency) }}: amounts on staff pages.
    app.add_template_filter(format_money, "money")
