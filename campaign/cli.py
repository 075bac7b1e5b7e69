"""`flask --app wsgi <command>` commands."""

from __future__ import annotations

import click
from flask import Flask

from campaign.extensions import db


def register_cli(app: Flask) -> None:
    from campaign.auth.cli import create_staff_alias, staff_cli
    from campaign.donations.cli import donations_cli
    from campaign.letters.cli import letters_cli

    app.cli.add_command(donations_cli)
    app.cli.add_command(letters_cli)
    app.cli.add_command(staff_cli)
    # `staff create` under its first name, which older instructions and scripts use.
    app.cli.add_command(create_staff_alias, "create-staff")

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
