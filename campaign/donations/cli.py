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


@donations_cli.command("reconcile")
@click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day of the period (UTC), e.g. 2026-01-01.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Day after the period (UTC); today included when not given.")
def reconcile_command(since, until) -> None:
    """Compare the ledger with Stripe's own records for a period; print every difference.
    Exits 1 when there is any."""
    from campaign.donations.reconcile import differences

    found = differences(since.date(), until.date() if until else None)
    for line in found:
        click.echo(line)
    if found:
        click.echo(f"{len(found)} difference{'s' if len(found) != 1 else ''}")
        raise SystemExit(1)
    click.echo("no differences")
