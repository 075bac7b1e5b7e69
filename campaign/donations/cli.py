"""`flask --app wsgi donations …`: the commands of giving."""

from __future__ import annotations

from flask.cli import AppGroup

donations_cli = AppGroup("donations", help="Online giving: reconciliation with Stripe, "
                                            "yearly giving statements.")
