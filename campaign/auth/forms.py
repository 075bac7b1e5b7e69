from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from campaign.auth.services import MAX_PASSWORD_LENGTH
from campaign.pages.forms import strip


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=[strip],
                       validators=[DataRequired("Please give your email address."),
                                   Length(max=254)])
    # Never stripped: spaces may be part of a password.
    password = PasswordField("Password",
                             validators=[DataRequired("Please give your password."),
                                         Length(max=MAX_PASSWORD_LENGTH)])
