"""The shipped US Congress snapshot and helpers the targets tests share."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask

from campaign.targets.services import lookup_representatives

ROOT = Path(__file__).resolve().parents[2]
# The copy shipped in the repository (data/us-congress/README.md names its sources), so
# the tests pass on any checkout.
SNAPSHOT = ROOT / "data" / "us-congress"
LEGISLATORS = SNAPSHOT / "legislators-current.yaml"
ZIPS = SNAPSHOT / "zccd.csv"
# The legislators file's own date: everyone in it is in office that day.
SNAPSHOT_DAY = date(2026, 6, 15)


def lookup(app: Flask, zip_code: str, on: date = SNAPSHOT_DAY) -> dict:
    """A lookup's result as plain values, read while its session is open."""
    with app.app_context():
        result = lookup_representatives(zip_code, on=on)
        return {
            "zip": result.zip_code,
            "states": result.states,
            "districts": [(d.label, d.representative and d.representative.external_id,
                           d.representative and d.representative.name)
                          for d in result.districts],
            "senators": [(t.state, t.external_id, t.name) for t in result.senators],
            "titles": [t.title for t in result.representatives + result.senators],
            "needs_district_choice": result.needs_district_choice,
            "spans_states": result.spans_states,
            "is_ambiguous": result.is_ambiguous,
        }
