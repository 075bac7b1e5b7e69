"""The amount step's form: what a donor types before the card step."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional

from campaign.common.input import CheckedForm
from campaign.donations import money
from campaign.donations.models import DonationSettings, Frequency
from campaign.pages.forms import NAME_MAX, mailable_email_field, strip

OTHER = "other"
TRIBUTE_KINDS = {"honour": "In honour of", "memory": "In memory of"}


class GiftForm(CheckedForm):
    """Amount, frequency and the donor. Choices come from the page's settings, so the
    radio buttons are plain fields checked by `chosen_amount` and `chosen_frequency`."""

    class Meta:
        csrf = False  # campaign.public_forms' token, checked by the view

    amount = StringField("Amount", filters=[strip])  # a suggested amount, or "other"
    custom_amount = StringField("Your amount", filters=[strip],
                                validators=[Optional(), Length(max=20)])
    currency = StringField("Currency", filters=[strip])
    frequency = StringField("How often", filters=[strip])
    cover_fee = BooleanField("Cover the processing fee", default=False)
    tribute_kind = StringField("Dedicate this gift", filters=[strip])
    tribute_name = StringField("Their name", filters=[strip],
                               validators=[Optional(), Length(max=200)])
    tribute_notify_email = EmailField(
        "Tell them by email (optional)", filters=[strip],
        validators=[Optional(), Length(max=254), mailable_email_field])
    first_name = StringField(
        "First name", filters=[strip],
        validators=[DataRequired("Please give your first name."),
                    Length(max=NAME_MAX, message="Please keep this under 100 characters.")])
    last_name = StringField(
        "Last name", filters=[strip],
        validators=[DataRequired("Please give your last name."),
                    Length(max=NAME_MAX, message="Please keep this under 100 characters.")])
    email = EmailField(
        "Email", filters=[strip],
        validators=[DataRequired("Please give your email address: your receipt goes "
                                 "there."),
                    Length(max=254, message="That email address is too long."),
                    mailable_email_field])
    website = StringField("Leave this empty", validators=[Optional()])

    @property
    def is_bot(self) -> bool:
        return bool(self.website.data)

    def fill_defaults(self, settings: DonationSettings) -> None:
        """A first visit's choices: the page's default amount and frequency."""
        if settings.default_amount in settings.suggested:
            self.amount.data = money.plain(settings.default_amount, settings.currency)
        else:
            self.amount.data = OTHER
            self.custom_amount.data = money.plain(settings.default_amount, settings.currency)
        self.frequency.data = settings.default_frequency
        self.currency.data = settings.currency

    def typed_amount(self) -> str:
        """An amount typed in wins over the radio buttons: without JavaScript, nothing
        ticks "Other amount" for a donor who types one."""
        if self.custom_amount.data:
            return self.custom_amount.data
        return "" if self.amount.data in (OTHER, None) else self.amount.data

    def chosen_amount(self, settings: DonationSettings) -> int | None:
        """The gift in minor units, or None with the reason on the field."""
        currency = settings.currency
        typed = self.typed_amount()
        if not typed:
            self.amount.errors.append("Please choose or enter an amount.")
            return None
        try:
            minor = money.to_minor(typed, currency)
        except money.AmountError as error:
            self.custom_amount.errors.append(str(error))
            return None
        if minor < settings.minimum_amount:
            self.custom_amount.errors.append(
                "The smallest gift we can take here is "
                f"{money.format_money(settings.minimum_amount, currency)}.")
            return None
        if minor > settings.maximum_amount:
            self.custom_amount.errors.append(
                "The largest gift we can take here online is "
                f"{money.format_money(settings.maximum_amount, currency)}; please "
                "contact us for larger gifts.")
            return None
        return minor

    def chosen_frequency(self, settings: DonationSettings) -> str | None:
        offered = offered_frequencies(settings)
        if self.frequency.data not in offered:
            self.frequency.errors.append("Please choose how often to give: "
                                         + " or ".join(offered.values()).lower() + ".")
            return None
        return self.frequency.data

    def chosen_tribute(self, settings: DonationSettings) -> tuple[str, str, str] | None:
        """(kind, name, notify email), all '' without a dedication; None when invalid."""
        kind = self.tribute_kind.data or ""
        if not settings.tribute_enabled or not kind:
            return "", "", ""
        if kind not in TRIBUTE_KINDS:
            self.tribute_kind.errors.append("Please choose honour or memory.")
            return None
        if not self.tribute_name.data:
            self.tribute_name.errors.append("Please give the name of the person this gift "
                                            "is for.")
            return None
        return kind, self.tribute_name.data, self.tribute_notify_email.data or ""


def percent_text(basis_points: int) -> str:
    """300 → '3', 250 → '2.5', 295 → '2.95': a share as people write it."""
    whole, rest = divmod(basis_points, 100)
    return str(whole) if not rest else f"{whole}.{rest:02d}".rstrip("0")


def offered_frequencies(settings: DonationSettings) -> dict[str, str]:
    offered = {}
    if settings.offer_one_time:
        offered[Frequency.ONE_TIME.value] = "Once"
    if settings.offer_monthly:
        offered[Frequency.MONTHLY.value] = "Monthly"
    return offered
