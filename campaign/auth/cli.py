"""`flask --app wsgi staff ...`: an operator's commands for staff accounts.

`staff create` makes an account (`create-staff`, its first name, still works); the others
look after it afterwards: when someone leaves, their account is deactivated and every
session it has ends at once.
"""

from __future__ import annotations

import copy
import os

import click
from flask.cli import AppGroup

from campaign.extensions import db

staff_cli = AppGroup("staff", help="Staff accounts: create, list, new password, deactivate, "
                                   "role.")


def ask_for_password() -> str:
    """STAFF_PASSWORD for scripts, else asked twice without echo."""
    from campaign.auth.services import MIN_PASSWORD_LENGTH

    return os.environ.get("STAFF_PASSWORD") or click.prompt(
        f"Password (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True,
        confirmation_prompt=True)


def _change(email: str, change, event: str, done: str) -> None:
    from campaign.auth.audit import record_staff_event
    from campaign.auth.services import StaffError, staff_user_or_error

    try:
        user = staff_user_or_error(email)
        change(user)
    except StaffError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    record_staff_event(event, user.email)
    db.session.commit()
    click.echo(done.format(email=user.email))


@staff_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The staff member's name, as staff pages show it.")
@click.option("--admin", is_flag=True,
              help="May also erase supporters and read the activity record. The first "
                   "account is always an admin.")
def create_command(email: str, name: str, admin: bool) -> None:
    """Create a staff account. The password is asked for twice, or read from the
    STAFF_PASSWORD environment variable for scripts."""
    from campaign.auth.audit import record_staff_event
    from campaign.auth.services import StaffError, create_staff_user, has_active_admin

    password = ask_for_password()
    admin = admin or not has_active_admin()
    try:
        user = create_staff_user(email, name=name, password=password, is_admin=admin)
    except StaffError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    record_staff_event("account.created", user.email)
    db.session.commit()
    role = "an admin" if user.is_admin else "an editor"
    click.echo(f"Created staff account {user.email} ({user.name}), {role}; sign in at "
               "/staff/login.")


# The same command as a top-level `create-staff`, its name before it joined the group.
create_staff_alias = copy.copy(create_command)
create_staff_alias.short_help = "Same as `staff create` (its earlier name)."


@staff_cli.command("list")
def list_command() -> None:
    """Every staff account: email, name, active or not, last sign-in."""
    from campaign.auth.services import list_staff_users

    for user in list_staff_users():
        state = "active" if user.is_active else "deactivated"
        role = "admin" if user.is_admin else "editor"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at \
            else "never signed in"
        click.echo(f"{user.email}\t{user.name}\t{role}\t{state}\t{last}")


@staff_cli.command("set-password")
@click.argument("email")
def set_password_command(email: str) -> None:
    """Give an account a new password (asked twice, or STAFF_PASSWORD) and sign out all
    its sessions."""
    from campaign.auth.services import set_password

    password = ask_for_password()
    _change(email, lambda user: set_password(user, password), "account.password_set",
            "New password set for {email}; its other sessions are signed out.")


@staff_cli.command("deactivate")
@click.argument("email")
def deactivate_command(email: str) -> None:
    """Refuse an account's sign-ins and sign out its sessions now."""
    from campaign.auth.services import set_active

    _change(email, lambda user: set_active(user, False), "account.deactivated",
            "{email} is deactivated and signed out everywhere.")


@staff_cli.command("activate")
@click.argument("email")
def activate_command(email: str) -> None:
    """Let a deactivated account sign in again (with its password as it was)."""
    from campaign.auth.services import set_active

    _change(email, lambda user: set_active(user, True), "account.activated",
            "{email} can sign in again.")


@staff_cli.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "editor"]))
def role_command(email: str, role: str) -> None:
    """Make an account an admin (may also erase supporters and read the activity record)
    or an editor."""
    from campaign.auth.services import set_admin

    _change(email, lambda user: set_admin(user, role == "admin"), f"account.made_{role}",
            f"{{email}} is now an {role}.")
