"""Money raised per page, for the thermometer: exact, and at most COUNT_CACHE_SECONDS
stale in each process, as signature counts are (campaign.pages.cache)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from campaign.donations.models import Donation
from campaign.extensions import db


def _raised(page_id: int) -> int:
    return int(db.session.scalar(
        select(func.coalesce(func.sum(Donation.amount - Donation.amount_refunded), 0))
        .where(Donation.action_page_id == page_id)) or 0)


def raised_for_page(page_id: int) -> int:
    """Sum of what the page's donations keep (amount less refunds), in minor units of the
    page's currency, from the same per-process cache as signature counts."""
    counts = current_app.extensions["page_caches"].counts
    # The key is a tuple so it never collides with a page id's signature count.
    return counts.get_or_load(("raised", page_id), lambda: _raised(page_id))
