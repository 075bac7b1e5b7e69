from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from campaign.pages.forms import SignForm, strip


class LetterForm(SignForm):
    town = StringField(
        "Town or city", filters=[strip],
        validators=[Optional(), Length(max=100, message="Please keep this under 100 characters.")])
    # Checked against the page's own maximum length by the view, which knows the page.
    body = TextAreaField("Your letter", validators=[Optional(), Length(max=20000)])
    # "STATE-N", chosen from the candidates when a ZIP code spans several districts.
    district = StringField("District", filters=[strip],
                           validators=[Optional(), Length(max=6)])
