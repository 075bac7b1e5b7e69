"""The staff forms of the letters domain: a page's letter settings, and marking a
fallback batch delivered."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from campaign.common.input import CheckedForm
from campaign.letters.models import OverCap
from campaign.pages.forms import strip
from campaign.staff.shell import optional_int

MAX_HOURLY_CAP = 100_000  # far above any office's inbox, well inside an integer column


class LetterSettingsForm(CheckedForm):
    """Field names are save_settings' arguments; it checks the letter's own rules."""

    subject = StringField("Subject", validators=[DataRequired("The letter needs a subject."),
                                                 Length(max=200)])
    body_template = TextAreaField(
        # Browsers send line breaks as CRLF, so this bound is loose; save_settings checks
        # the letter's real length against its maximum.
        "Letter", validators=[DataRequired("The letter needs some text."), Length(max=40000)],
        description="Merge fields: {first_name} {last_name} {full_name} {town} {postal_code} "
                    "{target_name} {target_title}. The salutation and sign-off are added "
                    "for each target.")
    is_editable = BooleanField("Supporters may edit the letter")
    max_length = IntegerField("Maximum length (characters)",
                              validators=[InputRequired("Please give a maximum length.")])
    targets_house = BooleanField("Write to the supporter's Representative")
    targets_senate = BooleanField("Write to the supporter's Senators")
    target_list_id = SelectField("Target list", coerce=optional_int)
    target_hourly_cap = IntegerField(
        "Letters per target per hour",
        validators=[InputRequired("Please give an hourly cap."),
                    NumberRange(min=1, max=MAX_HOURLY_CAP,
                                message=f"The cap must be between 1 and {MAX_HOURLY_CAP:,}.")])
    over_cap = SelectField("Over the cap", choices=[
        SelectChoice(OverCap.WAIT.value, "Letters wait for the next free slot"),
        SelectChoice(OverCap.DIGEST.value, "Letters go in one digest email to the office"),
    ])

    def set_target_lists(self, lists: list[tuple[int, str]]) -> None:
        self.target_list_id.choices = [SelectChoice(None, "No list")] + [
            SelectChoice(list_id, name) for list_id, name in lists]


class MarkDeliveredForm(CheckedForm):
    note = StringField("Note", filters=[strip],
                       validators=[Optional(), Length(max=500)])
