"""A donation page's giving settings: how it asks (DonationSettings)."""

from __future__ import annotations

from dataclasses import dataclass

from campaign.donations.models import DonationSettings, Frequency
from campaign.extensions import db


class SettingsError(ValueError):
    """The settings contradict each other; the message says how."""


def get_settings(page_id: int) -> DonationSettings | None:
    return db.session.get(DonationSettings, page_id)


@dataclass(frozen=True)
class GivingChoices:
    """Amounts in minor units, as DonationSettings stores them."""

    currency: str
    suggested: tuple[int, ...]
    default_amount: int
    minimum_amount: int
    maximum_amount: int
    offer_one_time: bool
    offer_monthly: bool
    default_frequency: str
    fee_cover_basis_points: int
    tribute_enabled: bool
    goal_amount: int


def check_choices(choices: GivingChoices) -> None:
    """Raises SettingsError with a staff-readable message for settings that can't work
    together (the database's check constraints say the same, less kindly)."""
    if choices.minimum_amount <= 0:
        raise SettingsError("The minimum must be above zero.")
    if choices.maximum_amount < choices.minimum_amount:
        raise SettingsError("The maximum must not be below the minimum.")
    if not choices.minimum_amount <= choices.default_amount <= choices.maximum_amount:
        raise SettingsError("The default amount must be between the minimum and the maximum.")
    outside = [a for a in choices.suggested
               if not choices.minimum_amount <= a <= choices.maximum_amount]
    if outside:
        raise SettingsError("Every suggested amount must be between the minimum and the "
                            "maximum.")
    if len(set(choices.suggested)) != len(choices.suggested):
        raise SettingsError("A suggested amount is listed twice.")
    if not (choices.offer_one_time or choices.offer_monthly):
        raise SettingsError("Offer one-time gifts, monthly gifts, or both.")
    offered = {Frequency.ONE_TIME.value: choices.offer_one_time,
               Frequency.MONTHLY.value: choices.offer_monthly}
    if not offered.get(choices.default_frequency):
        raise SettingsError("The default frequency must be one the page offers.")
    if not 0 <= choices.fee_cover_basis_points <= 2000:
        raise SettingsError("The fee cover must be 0 to 20 %.")
    if choices.goal_amount < 0:
        raise SettingsError("The goal must not be negative.")


def save_settings(page_id: int, choices: GivingChoices) -> DonationSettings:
    """Creates or replaces the page's settings. Flushes; the caller commits."""
    check_choices(choices)
    settings = get_settings(page_id) or DonationSettings(action_page_id=page_id)
    settings.currency = choices.currency
    settings.suggested_amounts = ",".join(str(a) for a in choices.suggested)
    settings.default_amount = choices.default_amount
    settings.minimum_amount = choices.minimum_amount
    settings.maximum_amount = choices.maximum_amount
    settings.offer_one_time = choices.offer_one_time
    settings.offer_monthly = choices.offer_monthly
    settings.default_frequency = choices.default_frequency
    settings.fee_cover_basis_points = choices.fee_cover_basis_points
    settings.tribute_enabled = choices.tribute_enabled
    settings.goal_amount = choices.goal_amount
    db.session.add(settings)
    db.session.flush()
    return settings
