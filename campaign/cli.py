"""`flask --app wsgi <command>` commands."""

from __future__ import annotations

import click
from flask import Flask

from campaign.extensions import db


def register_cli(app: Flask) -> None:
    from campaign.auth.cli import ask_for_password, staff_cli
    from campaign.letters.cli import letters_cli

    app.cli.add_command(letters_cli)
    app.cli.add_command(staff_cli)
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo campaign and its pages (safe to run again)."""
        from campaign.demo import seed_demo

        campaign, created = seed_demo()
        db.session.commit()
        if created:
            click.echo(f"Created {', '.join(created)} in campaign {campaign.slug!r}.")
        else:
            click.echo(f"Demo campaign {campaign.slug!r} is already complete; nothing changed.")

    @app.cli.command("create-staff")
    @click.argument("email")
    @click.option("--name", required=True, help="The staff member's name, as staff pages show it.")
    @click.option("--admin", is_flag=True,
                  help="May also erase supporters and read the activity record. The first "
                       "account is always an admin.")
    def create_staff_command(email: str, name: str, admin: bool) -> None:
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

    @app.cli.command("import-representatives")
    @click.option("--legislators", required=True,
                  type=click.Path(exists=True, dir_okay=False),
                  help="legislators-current.yaml from unitedstates/congress-legislators.")
    @click.option("--zips", required=True, type=click.Path(exists=True, dir_okay=False),
                  help="zccd.csv: ZCTA to congressional district.")
    def import_representatives_command(legislators: str, zips: str) -> None:
        """Load members of Congress and the ZIP-to-district table (safe to run again)."""
        import time

        from campaign.common.types import utcnow
        from campaign.targets.congress import CongressDataError, import_representatives

        started = time.monotonic()

        def progress(message: str) -> None:
            click.echo(f"[{time.monotonic() - started:5.1f}s] {message}")

        try:
            counts = import_representatives(legislators, zips, today=utcnow().date(),
                                            progress=progress)
        except CongressDataError as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error
        db.session.commit()
        click.echo(f"Members of Congress: {counts.added} added, {counts.updated} updated, "
                   f"{counts.ended} ended; {counts.zips} ZIP-district rows loaded "
                   f"in {time.monotonic() - started:.1f}s.")
