from __future__ import annotations

from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from campaign.common.input import CheckedForm, CheckedRowForm
from campaign.pages.forms import strip
from campaign.pages.models import PageKind, PageStatus
from campaign.staff.shell import optional_int

MAX_GOAL = 100_000_000
EXTRA_CARD_ROWS = 3  # blank rows under a page's cards: room to add without JavaScript
KIND_CHOICES = [
    SelectChoice(PageKind.PETITION.value, "Petition: supporters sign"),
    SelectChoice(PageKind.LETTER.value, "Letter: supporters write to their representatives "
                                        "or a target list"),
    SelectChoice(PageKind.DONATION.value, "Donation: supporters give once or monthly"),
]
STATUS_CHOICES = [
    SelectChoice(PageStatus.DRAFT.value, "Draft: only staff see it"),
    SelectChoice(PageStatus.LIVE.value, "Live: supporters can act"),
    SelectChoice(PageStatus.CLOSED.value, "Closed: the page shows the closing message"),
]


class EvidenceCardForm(CheckedRowForm):
    """One row of the cards table. A row left blank is no card; `remove` drops one, and
    the order numbers rearrange them."""

    claim = TextAreaField("Claim", filters=[strip], validators=[Optional(), Length(max=2000)])
    source_title = StringField("Source", filters=[strip],
                               validators=[Optional(), Length(max=300)])
    source_url = StringField("Source link", filters=[strip],
                             validators=[Optional(), Length(max=1000)])
    order = IntegerField("Order", validators=[
        Optional(), NumberRange(min=1, max=999, message="The order is a number from 1 to 999.")])
    remove = BooleanField("Remove")

    @property
    def is_blank(self) -> bool:
        return not (self.claim.data or self.source_title.data or self.source_url.data)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.remove.data or self.is_blank:
            return True
        missing = [field.label.text for field in (self.claim, self.source_title,
                                                  self.source_url) if not field.data]
        if missing:
            self.claim.errors = [f"A card needs a claim, a source and a source link; "
                                 f"this one has no {' and no '.join(missing).lower()}."]
            return False
        return True


class PageForm(CheckedForm):
    campaign_id = SelectField("Campaign", coerce=optional_int)
    new_campaign = StringField(
        "Or a new campaign", filters=[strip],
        validators=[Optional(), Length(max=200)],
        description="Pages of one campaign are reported together.")
    title = StringField("Title", filters=[strip],
                        validators=[DataRequired("The page needs a title."), Length(max=200)])
    slug = StringField(
        "Address", filters=[strip, lambda value: value.lower() if value else value],
        validators=[Optional(), Length(max=80)],
        description="The page is at /a/<address>. Left blank, it is made from the title. "
                    "It cannot change while the page is live or closed.")
    kind = SelectField("Kind", choices=KIND_CHOICES)
    status = SelectField("Status", choices=STATUS_CHOICES)
    summary = TextAreaField("Summary", filters=[strip],
                            validators=[Optional(), Length(max=500)],
                            description="One or two sentences, shown under the title and "
                                        "in the list of pages.")
    body_markdown = TextAreaField(
        "The argument", validators=[Optional(), Length(max=50_000)],
        description="Markdown: **bold**, *italic*, [links](https://example.org), lists, "
                    "## headings. HTML and images are not shown.")
    goal = IntegerField("Goal", validators=[
        InputRequired("Please give a goal (0 for none)."),
        NumberRange(min=0, max=MAX_GOAL, message=f"The goal must be 0 to {MAX_GOAL:,}.")])
    closed_message = TextAreaField(
        "Message when closed", filters=[strip], validators=[Optional(), Length(max=2000)],
        description="Shown in place of the form once the page is closed.")
    cards = FieldList(FormField(EvidenceCardForm), label="Evidence cards")

    def set_campaigns(self, campaigns: list[tuple[int, str]]) -> None:
        self.campaign_id.choices = [SelectChoice(None, "Choose a campaign")] + [
            SelectChoice(campaign_id, name) for campaign_id, name in campaigns]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.new_campaign.data and self.campaign_id.data is None:
            # Here, not as a field validator: Optional() ends a blank field's checks.
            self.new_campaign.errors = [*self.new_campaign.errors,
                                        "Please choose a campaign or name a new one."]
            return False
        return valid

    def kept_cards(self) -> list[EvidenceCardForm]:
        """The cards to save, by their order numbers; rows without one keep their place
        after those with one."""
        kept = [(i, row.form) for i, row in enumerate(self.cards)
                if not (row.form.remove.data or row.form.is_blank)]
        kept.sort(key=lambda item: (item[1].order.data or 1000 + item[0], item[0]))
        return [card for _, card in kept]


class EraseSupporterForm(CheckedForm):
    confirm_email = StringField(
        "Type the supporter's email to confirm", filters=[strip],
        validators=[DataRequired("Please type the supporter's email to confirm."),
                    Length(max=254)])
