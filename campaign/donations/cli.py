"""`flask --app wsgi donations …`: the commands of giving."""

from __future__ import annotations

import click
from flask.cli import AppGroup

donations_cli = AppGroup("donations", help="Online giving: reconciliation with Stripe, "
                                            "yearly giving statements.")


@donations_cli.command("statements")
@click.option("--year", type=click.IntRange(2000, 9999), required=True,
              help="The calendar year (UTC) whose gifts each statement lists.")
def statements_command(year: int) -> None:
    """Emails each donor the sum and list of their gifts in YEAR, once per donor and year."""
    from campaign import outbox
    from campaign.donations.donor_emails import DONOR_EMAILS_DRAIN
    from campaign.donations.statements import queue_statements
    from campaign.extensions import db

    queued = queue_statements(year)
    db.session.commit()
    outbox.request_run(DONOR_EMAILS_DRAIN)
    click.echo(f"Queued {queued} statement{'' if queued == 1 else 's'} for {year}.")
