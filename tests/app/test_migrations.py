"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from campaign import create_app
from campaign.extensions import db
from tests.conftest import _create_database, _drop_database


def schema_differences(app) -> list:
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection,
                                                 opts={"compare_type": True})
            return compare_metadata(context, db.metadata)


def test_migrations_match_models_on_postgresql(postgres_server_url, app_settings):
    url = _create_database(postgres_server_url)
    try:
        app = create_app({**app_settings, "SQLALCHEMY_DATABASE_URI": url})
        assert schema_differences(app) == []
        with app.app_context():
            db.engine.dispose()
    finally:
        _drop_database(postgres_server_url, url)


def test_migrations_match_models_on_sqlite(tmp_path, app_settings):
    app = create_app({**app_settings,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'schema.sqlite3'}"})
    assert schema_differences(app) == []
