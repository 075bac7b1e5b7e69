from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from campaign.extensions import db
from campaign.targets.congress import ImportCounts, import_representatives
from tests.targets.support import LEGISLATORS, SNAPSHOT_DAY, ZIPS


@pytest.fixture
def import_congress(app: Flask) -> Callable[..., ImportCounts]:
    """Imports the shipped snapshot (or the files given) and commits, as the CLI does."""

    def run(legislators: Path = LEGISLATORS, zips: Path = ZIPS,
            today: date = SNAPSHOT_DAY) -> ImportCounts:
        with app.app_context():
            counts = import_representatives(legislators, zips, today=today)
            db.session.commit()
            return counts

    return run
