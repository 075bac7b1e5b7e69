"""Migration 0012 adds up where existing signers came from into per-page counts and,
with ATTRIBUTION_PER_PERSON off, empties those fields on the signatures."""

from __future__ import annotations

from datetime import date, datetime, timezone

import flask_migrate
import pytest
from sqlalchemy import text

from campaign import create_app
from campaign.extensions import db
from campaign.pages import services as page_services
from campaign.supporters.models import Action, Supporter
from tests.conftest import _create_database, _drop_database

DAY_ONE = datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc)
DAY_TWO = datetime(2026, 11, 30, 0, 30, tzinfo=timezone.utc)


def _sign(page_id: int, n: int, at: datetime, **attribution: str) -> None:
    supporter = Supporter(email=f"s{n}@example.org", first_name="A", last_name="B")
    db.session.add(supporter)
    db.session.flush()
    db.session.add(Action(action_page_id=page_id, supporter_id=supporter.id, created_at=at,
                          **attribution))


def upgrade_with_signatures(app) -> tuple[list, list]:
    with app.app_context():
        flask_migrate.upgrade(revision="0011")  # the one before 0012
        campaign = page_services.create_campaign(slug="c", name="C")
        page = page_services.create_page(campaign, slug="p", title="P", kind="petition",
                                         status="live", body_markdown="x", cards=[])
        mail = {"source": "mail", "utm_campaign": "nov", "referrer": "https://forum.example"}
        _sign(page.id, 1, DAY_ONE, **mail)
        _sign(page.id, 2, DAY_ONE, **mail)
        _sign(page.id, 3, DAY_TWO, **mail)
        _sign(page.id, 4, DAY_TWO, utm_content="who@example.org")
        _sign(page.id, 5, DAY_TWO)
        db.session.commit()
        flask_migrate.upgrade()
        counts = db.session.execute(text(
            "SELECT day, source, utm_campaign, utm_content, referrer, signatures "
            "FROM signature_attribution_counts ORDER BY day, signatures DESC")).all()
        actions = db.session.execute(text(
            "SELECT DISTINCT source, utm_campaign, utm_content, referrer FROM actions")).all()
        db.engine.dispose()
    return [(date.fromisoformat(str(row[0])), *row[1:]) for row in counts], \
        [tuple(row) for row in actions]


EXPECTED_COUNTS = [
    (date(2026, 11, 29), "mail", "nov", "", "https://forum.example", 2),
    (date(2026, 11, 30), "mail", "nov", "", "https://forum.example", 1),
    (date(2026, 11, 30), "", "", "<address>", "", 1),
]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_existing_attribution_becomes_counts(backend, postgres_server_url, app_settings,
                                             tmp_path, monkeypatch):
    monkeypatch.delenv("ATTRIBUTION_PER_PERSON", raising=False)
    url = (_create_database(postgres_server_url) if backend == "postgresql"
           else f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        counts, actions = upgrade_with_signatures(
            create_app({**app_settings, "SQLALCHEMY_DATABASE_URI": url}))
    finally:
        if backend == "postgresql":
            _drop_database(postgres_server_url, url)
    assert sorted(counts) == sorted(EXPECTED_COUNTS)
    assert actions == [("", "", "", "")]


def test_with_per_person_attribution_the_signatures_keep_theirs(app_settings, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("ATTRIBUTION_PER_PERSON", "true")
    counts, actions = upgrade_with_signatures(create_app(
        {**app_settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}"}))
    assert sorted(counts) == sorted(EXPECTED_COUNTS)
    assert sorted(actions) == [("", "", "", ""), ("", "", "who@example.org", ""),
                               ("mail", "nov", "", "https://forum.example")]
