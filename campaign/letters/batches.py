"""Fallback batches exported for staff: a CSV, and a printable page per letter."""

from __future__ import annotations

import csv
import io

from flask import render_template

from campaign.common.spreadsheet import spreadsheet_safe
from campaign.extensions import db
from campaign.letters.models import FallbackBatch

CSV_COLUMNS = ("letter_id", "written_at", "target_name", "target_title", "target_address",
               "supporter_name", "supporter_email", "supporter_town", "supporter_postal_code",
               "subject", "body")


def get_batch(batch_id: int) -> FallbackBatch | None:
    return db.session.get(FallbackBatch, batch_id)


def batch_csv(batch: FallbackBatch) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    target = batch.target
    for letter in batch.letters:
        supporter = letter.action.supporter
        writer.writerow([spreadsheet_safe(value) for value in (
            letter.id, letter.created_at.isoformat(), target.name, target.title,
            target.address or "", supporter.full_name, supporter.email, supporter.town,
            supporter.postal_code, letter.subject, letter.body)])
    return out.getvalue()


def batch_printable_html(batch: FallbackBatch) -> str:
    """One letter per printed page, addressed to the target."""
    return render_template("letters/batch_print.html", batch=batch, target=batch.target,
                           letters=batch.letters)
