from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from campaign.auth.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from campaign.common.input import CheckedForm
from campaign.pages.forms import strip


class LoginForm(CheckedForm):
    email = EmailField("Email", filters=[strip],
                       validators=[DataRequired("Please give your email address."),
                                   Length(max=254)])
    # Never stripped: spaces may be part of a password.
    password = PasswordField("Password",
                             validators=[DataRequired("Please give your password."),
                                         Length(max=MAX_PASSWORD_LENGTH)])


class ChangePasswordForm(CheckedForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Please give your current password."),
                                        Length(max=MAX_PASSWORD_LENGTH)])
    new_password = PasswordField(
        "New password",
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A few unrelated words "
                    "are easy to remember and hard to guess.",
        validators=[DataRequired("Please choose a new password."),
                    Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                           message=f"The new password must be {MIN_PASSWORD_LENGTH} to "
                                   f"{MAX_PASSWORD_LENGTH} characters.")])
    confirm_password = PasswordField(
        "New password again",
        validators=[DataRequired("Please type the new password again."),
                    EqualTo("new_password", "The two new passwords differ.")])
