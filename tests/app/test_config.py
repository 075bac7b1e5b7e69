"""Configuration from the environment and the health endpoint."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from campaign import create_app
from campaign.config import PRODUCTION_REQUIRED, ConfigurationError, load_config
from campaign.extensions import celery_config
from tests.servers import free_port

PRODUCTION_ENV = {
    "SECRET_KEY": "k" * 40,
    "DATABASE_URL": "postgres://campaign@db.internal/campaign",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "BASE_URL": "https://act.example.org",
    "SMTP_URL": "smtp://mail.internal:587?starttls=1",
    "MAIL_FROM": "Campaign <act@example.org>",
    "ORG_NAME": "Example Org",
    "ORG_POSTAL_ADDRESS": "1 Example Street",
}


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED)
def test_production_refuses_to_start_without_each_setting(monkeypatch, missing):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigurationError, match=missing):
        load_config("production")


def test_production_refuses_a_short_or_development_secret_key(monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "too-short")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_config("production")


def test_production_starts_with_every_setting(monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    assert load_config("production").ENV_NAME == "production"


def test_the_tests_run_on_the_testing_config(app):
    assert app.config["ENV_NAME"] == "testing"
    assert app.config["TESTING"] is True


def test_unknown_environment_name_is_refused():
    with pytest.raises(ConfigurationError, match="staging"):
        load_config("staging")


def test_embedded_default_runs_tasks_in_process_and_mails_to_the_outbox(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "REDIS_URL": None, "SMTP_URL": None, "OUTBOX_DIR": str(tmp_path)})
    assert app.extensions["celery"].conf.task_always_eager is True
    assert type(app.extensions["mail_transport"]).__name__ == "OutboxTransport"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_redis_url_sends_tasks_to_the_broker(app):
    conf = celery_config(app)
    assert conf["task_always_eager"] is False
    assert conf["broker_url"] == app.config["REDIS_URL"]
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"database": "ok", "redis": "ok", "delivery": [], "status": "ok"}


def test_healthz_is_503_when_redis_is_down(app_settings):
    app = create_app({**app_settings, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "ok"
    assert response.json["redis"].startswith("down")


def test_healthz_is_503_when_the_database_is_down(app_settings):
    app = create_app({**app_settings, "SQLALCHEMY_DATABASE_URI":
                      f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"].startswith("down")
    assert response.json["redis"] == "ok"


def test_database_url_from_hosting_dashboards_uses_psycopg(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    from campaign import config

    assert config._database_url() == "postgresql+psycopg://u@h/d"


def test_schema_has_the_constraints_that_protect_against_doubles(app):
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    inspector = inspect(engine)
    uniques = {tuple(c["column_names"]) for c in inspector.get_unique_constraints("actions")}
    assert ("action_page_id", "supporter_id") in uniques
    assert ("email",) in {tuple(c["column_names"])
                          for c in inspector.get_unique_constraints("supporters")}
    engine.dispose()
