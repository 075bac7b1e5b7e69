"""The staff forms of giving: the donations list's filter, the monthly gifts' filter and
a refund."""

from __future__ import annotations

from wtforms import DateField, HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from campaign.common.input import MAX_ID, CheckedForm
from campaign.donations.models import DonationStatus, Frequency, MonthlyGiftStatus
from campaign.donations.staff_reports import DISPUTED
from campaign.pages.forms import strip
from campaign.staff.shell import optional_int

INCOMPLETE_FORM = "The form is incomplete: reload the page and try again."
MAX_PAGE_NUMBER = 1_000_000  # far past any list, well inside OFFSET's range

FREQUENCY_CHOICES = [SelectChoice("", "One-time and monthly"),
                     SelectChoice(Frequency.ONE_TIME.value, "One-time"),
                     SelectChoice(Frequency.MONTHLY.value, "Monthly")]
STATUS_CHOICES = [SelectChoice("", "Any status"),
                  SelectChoice(DonationStatus.SUCCEEDED.value, "Succeeded"),
                  SelectChoice(DonationStatus.PARTIALLY_REFUNDED.value, "Partially refunded"),
                  SelectChoice(DonationStatus.REFUNDED.value, "Refunded"),
                  SelectChoice(DISPUTED, "Disputed")]
STATE_CHOICES = [SelectChoice("", "Any state"),
                 SelectChoice(MonthlyGiftStatus.ACTIVE.value, "Active"),
                 SelectChoice(MonthlyGiftStatus.PAST_DUE.value, "Past due"),
                 SelectChoice(MonthlyGiftStatus.CANCELED.value, "Canceled"),
                 SelectChoice(MonthlyGiftStatus.INCOMPLETE.value, "Incomplete")]


def _optional_page_id(value: object) -> int | None:
    try:
        found = optional_int(value)
    except (TypeError, ValueError):
        return -1  # not a choice: the select refuses it with its own message
    return found if found is None or 0 < found <= MAX_ID else -1


class QueryForm(CheckedForm):
    """A filter read from the query string: no CSRF token (a GET changes nothing)."""

    class Meta(CheckedForm.Meta):
        csrf = False

    p = IntegerField("Page", validators=[Optional(), NumberRange(1, MAX_PAGE_NUMBER)])


class DonationFilterForm(QueryForm):
    page = SelectField("Page", coerce=_optional_page_id, validate_choice=True)
    date_from = DateField("From (UTC day)", validators=[Optional()])
    date_to = DateField("To (UTC day, included)", validators=[Optional()])
    frequency = SelectField("One-time or monthly", choices=FREQUENCY_CHOICES, default="")
    status = SelectField("Status", choices=STATUS_CHOICES, default="")

    def set_pages(self, pages: list[tuple[int, str]]) -> None:
        self.page.choices = [SelectChoice(None, "Every page"),
                             *(SelectChoice(page_id, title) for page_id, title in pages)]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end of the range is before its start.")


class MonthlyFilterForm(QueryForm):
    state = SelectField("State", choices=STATE_CHOICES, default="")
    # One gift, as linked from a donor's page or a donation.
    gift = IntegerField("Monthly gift", validators=[Optional(), NumberRange(1, MAX_ID)])


class RefundForm(CheckedForm):
    """A refund in the donation's currency, in major units (25.50; 5000 for won). The
    amount left to refund is checked by the view, which knows the donation."""

    amount = StringField("Amount to refund", filters=[strip], validators=[
        DataRequired("Enter the amount to refund."), Length(max=20)])
    reason = StringField("Reason, for your colleagues (no names or emails)", filters=[strip],
                         validators=[Length(max=200)])
    # How many refunds the donation had when the page was shown: a second submit of the
    # same form (a double click, a resent POST) finds one more and refunds nothing.
    refunds_seen = HiddenField(validators=[InputRequired(INCOMPLETE_FORM)])

    def seen(self) -> int | None:
        try:
            value = int(self.refunds_seen.data)
        except (TypeError, ValueError):
            return None
        return value if 0 <= value <= MAX_ID else None
