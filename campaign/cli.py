"""`flask --app wsgi <command>` commands."""

from __future__ import annotations

import click
from flask import Flask

from campaign.extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo campaign and its pages (safe to run again)."""
        from campaign.pages.demo import seed_demo

        campaign, created = seed_demo()
        db.session.commit()
        if created:
            click.echo(f"Created {', '.join(created)} in campaign {campaign.slug!r}.")
        else:
            click.echo(f"Demo campaign {campaign.slug!r} is already complete; nothing changed.")
