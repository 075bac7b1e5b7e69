from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from campaign.common.input import CheckedForm
from campaign.pages.forms import strip


class TargetListUploadForm(CheckedForm):
    name = StringField("List name", filters=[strip],
                       validators=[DataRequired("Please give the list a name."),
                                   Length(max=200)])
    file = FileField("CSV file", validators=[FileRequired("Please choose a CSV file.")],
                     description="Columns: name,title,email,state,district (only name is "
                                 "required). UTF-8, at most 1 MB.")
