"""`flask --app wsgi letters ...`: staff commands for letter pages and fallback batches."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from campaign.extensions import db

letters_cli = AppGroup("letters", help="Letter pages, delivery and fallback batches.")


@letters_cli.command("configure")
@click.argument("slug")
@click.option("--subject", required=True)
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The letter template; merge fields like {first_name} {target_name}.")
@click.option("--editable/--fixed", default=True, help="May supporters edit the letter?")
@click.option("--max-length", type=int, default=5000, show_default=True)
@click.option("--house/--no-house", default=False, help="Write to the supporter's Representative.")
@click.option("--senate/--no-senate", default=False, help="Write to the supporter's Senators.")
@click.option("--target-list", type=int, help="Id of a custom target list.")
@click.option("--hourly-cap", type=int, default=60, show_default=True,
              help="Letters per target per hour before the rest wait or go in a digest.")
@click.option("--over-cap", type=click.Choice(["wait", "digest"]), default="wait",
              show_default=True)
def configure_command(slug: str, subject: str, body_file: str, editable: bool,
                      max_length: int, house: bool, senate: bool, target_list: int | None,
                      hourly_cap: int, over_cap: str) -> None:
    """Set what a letter page writes and to whom."""
    from campaign.letters.compose import LetterError
    from campaign.letters.services import save_settings

    try:
        save_settings(slug, subject=subject, body_template=Path(body_file).read_text(),
                      is_editable=editable, max_length=max_length, targets_house=house,
                      targets_senate=senate, target_list_id=target_list,
                      target_hourly_cap=hourly_cap, over_cap=over_cap)
    except LetterError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Letter settings saved for {slug}.")


@letters_cli.command("report")
@click.argument("slug")
def report_command(slug: str) -> None:
    """Letters sent from a page: statuses, channels and how many are personalised."""
    from campaign.letters.services import letter_report
    from campaign.pages.services import load_page_view

    page = load_page_view(slug)
    if page is None:
        raise click.ClickException(f"no page {slug!r}")
    report = letter_report(page.id)
    click.echo(f"{report.letters} letters from {report.submissions} supporters")
    click.echo(f"personalised: {report.personalised_submissions} "
               f"({report.personalised_share:.0%}); distinct texts: {report.distinct_bodies}; "
               f"texts sent by more than one supporter: {report.repeated_bodies}")
    for (status, channel), count in sorted(report.by_status.items()):
        click.echo(f"  {status:<10} {channel:<9} {count}")


@letters_cli.command("batches")
def batches_command() -> None:
    """List open fallback batches: letters waiting to be printed or handed over."""
    from campaign.letters.delivery import open_batch_rows

    for row in open_batch_rows():
        click.echo(f"{row.batch.id}\t{row.letters} letters\t{row.target.name}, "
                   f"{row.target.title}")


@letters_cli.command("export-batch")
@click.argument("batch_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "html"]), default="csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True)
def export_batch_command(batch_id: int, fmt: str, output: str) -> None:
    """Write a batch as CSV or as printable HTML (one letter a page; print to PDF)."""
    from campaign.letters.batches import batch_csv, batch_printable_html
    from campaign.letters.models import FallbackBatch

    batch = db.session.get(FallbackBatch, batch_id)
    if batch is None:
        raise click.ClickException(f"no fallback batch {batch_id}")
    text = batch_csv(batch) if fmt == "csv" else batch_printable_html(batch)
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"Wrote {len(batch.letters)} letters to {output}.")


@letters_cli.command("mark-delivered")
@click.argument("batch_id", type=int)
@click.option("--note", default="", help="How it was delivered, e.g. 'by hand, 3 May'.")
def mark_delivered_command(batch_id: int, note: str) -> None:
    """Record that a batch was delivered; its letters become delivered."""
    from campaign.letters.delivery import mark_batch_delivered

    try:
        batch = mark_batch_delivered(batch_id, note)
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Batch {batch.id}: {len(batch.letters)} letters marked delivered.")


@letters_cli.command("sweep")
def sweep_command() -> None:
    """Run the letter sweep and the digests now (what beat does each minute; useful on the
    embedded default, which has no beat: there the delivery run happens in this process)."""
    from flask import current_app

    tasks = current_app.extensions["celery"].tasks
    due = tasks["letters.sweep"].apply().result
    digests = tasks["letters.send_digests"].apply().result
    click.echo(f"Letters due for delivery: {due}; digests sent: {digests}.")
