"""The ledger: donations and monthly gifts written from Stripe's own objects.

Every writer here merges what Stripe says into our row in a way that ends the same however
often, and in whatever order, the news arrives: rows are keyed by Stripe's ids, refunded
amounts only grow, and state that can go back and forth is taken from the object as Stripe
holds it now (re-fetched), or from the newest event that carried it.
"""

from __future__ import annotations

from campaign.donations.models import Donation, DonationStatus


def apply_charge_refunds(donation: Donation, charge: dict) -> bool:
    """Takes the charge's refunded amount into the ledger row; True when it changed.

    A refund only ever adds to `amount_refunded`, so the larger figure is the newer one:
    an old `charge.refunded` event arriving after a newer one changes nothing."""
    refunded = min(int(charge.get("amount_refunded") or 0), donation.amount)
    if refunded <= donation.amount_refunded:
        return False
    donation.amount_refunded = refunded
    donation.status = (DonationStatus.REFUNDED.value if refunded >= donation.amount
                       else DonationStatus.PARTIALLY_REFUNDED.value)
    return True
