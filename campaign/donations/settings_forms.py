"""The staff form for a donation page's giving settings. Amounts are typed in major units
(25, 25.50, ₩5,000) and stored in minor units (campaign.donations.money)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from campaign.common.input import CheckedForm
from campaign.donations import money
from campaign.donations.models import DonationSettings, Frequency
from campaign.donations.page_settings import GivingChoices, SettingsError
from campaign.pages.forms import strip

MAX_SUGGESTED = 8


class GivingSettingsForm(CheckedForm):
    currency = SelectField("Currency", choices=[
        SelectChoice(code, f"{code.upper()} ({symbol.strip()})")
        for code, symbol in money.CURRENCIES.items()])
    suggested = StringField("Suggested amounts", filters=[strip],
                            validators=[DataRequired("List at least one suggested amount."),
                                        Length(max=150)],
                            description="Comma-separated, in the order shown: 10, 25, 50, 100")
    default_amount = StringField("Default amount", filters=[strip],
                                 validators=[DataRequired("Give a default amount.")])
    minimum_amount = StringField("Minimum", filters=[strip],
                                 validators=[DataRequired("Give a minimum amount.")])
    maximum_amount = StringField("Maximum", filters=[strip],
                                 validators=[DataRequired("Give a maximum amount.")])
    offer_one_time = BooleanField("Offer one-time gifts")
    offer_monthly = BooleanField("Offer monthly gifts")
    default_frequency = SelectField("Selected at first", choices=[
        SelectChoice(Frequency.ONE_TIME.value, "One-time"),
        SelectChoice(Frequency.MONTHLY.value, "Monthly")])
    fee_cover_percent = StringField(
        "Cover-the-fee share (%)", filters=[strip],
        validators=[DataRequired("Give the fee share (0 offers none).")],
        description="What the \u201ccover the processing fee\u201d box adds, e.g. 3 or 2.9; "
                    "0 hides the box.")
    tribute_enabled = BooleanField("Offer to dedicate a gift (in honour or in memory of someone)")
    goal_amount = StringField("Money goal", filters=[strip],
                              validators=[DataRequired("Give a goal (0 shows none).")])

    def fill_from(self, settings: DonationSettings) -> None:
        currency = settings.currency
        self.currency.data = currency
        self.suggested.data = ", ".join(money.plain(a, currency) for a in settings.suggested)
        for name in ("default_amount", "minimum_amount", "maximum_amount"):
            getattr(self, name).data = money.plain(getattr(settings, name), currency)
        self.goal_amount.data = money.plain(settings.goal_amount, currency) \
            if settings.goal_amount else "0"
        self.offer_one_time.data = settings.offer_one_time
        self.offer_monthly.data = settings.offer_monthly
        self.default_frequency.data = settings.default_frequency
        self.fee_cover_percent.data = str(Decimal(settings.fee_cover_basis_points) / 100
                                          ).rstrip("0").rstrip(".") or "0"
        self.tribute_enabled.data = settings.tribute_enabled

    def choices(self) -> GivingChoices | None:
        """The settings in minor units, or None with the reasons on the fields."""
        currency = self.currency.data
        amounts = {}
        for name in ("default_amount", "minimum_amount", "maximum_amount"):
            amounts[name] = self._minor(getattr(self, name), currency)
        suggested = []
        parts = [p for p in (self.suggested.data or "").replace(";", ",").split(",")
                 if p.strip()]
        if len(parts) > MAX_SUGGESTED:
            self.suggested.errors.append(f"Suggest at most {MAX_SUGGESTED} amounts.")
        for part in parts:
            try:
                suggested.append(money.to_minor(part, currency))
            except money.AmountError as error:
                self.suggested.errors.append(f"\u201c{part.strip()}\u201d: {error}")
        goal = 0
        if self.goal_amount.data not in ("0", "0.00"):
            goal = self._minor(self.goal_amount, currency)
        fee = self._basis_points()
        if self.errors or None in amounts.values() or goal is None or fee is None:
            return None
        choices = GivingChoices(
            currency=currency, suggested=tuple(suggested), goal_amount=goal,
            offer_one_time=bool(self.offer_one_time.data),
            offer_monthly=bool(self.offer_monthly.data),
            default_frequency=self.default_frequency.data, fee_cover_basis_points=fee,
            tribute_enabled=bool(self.tribute_enabled.data), **amounts)
        return choices

    def _minor(self, field, currency: str) -> int | None:
        try:
            return money.to_minor(field.data, currency)
        except money.AmountError as error:
            field.errors.append(str(error))
            return None

    def _basis_points(self) -> int | None:
        try:
            percent = Decimal((self.fee_cover_percent.data or "").replace("%", "").strip())
        except InvalidOperation:
            self.fee_cover_percent.errors.append("Give the share as a number, such as 3.")
            return None
        if not percent.is_finite() or not 0 <= percent <= 20:
            self.fee_cover_percent.errors.append("The share must be 0 to 20 %.")
            return None
        points = percent * 100
        if points != points.to_integral_value():
            self.fee_cover_percent.errors.append("Use at most two decimals, such as 2.95.")
            return None
        return int(points)


__all__ = ["GivingSettingsForm", "SettingsError"]
