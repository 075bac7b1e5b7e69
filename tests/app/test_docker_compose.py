"""docker-compose.yml, as Debian's docker-compose reads it: services, health checks and
an environment the production configuration accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from campaign.config import PRODUCTION_REQUIRED, load_config

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "compose-test-secret-key-of-forty-characters"
LONG_RUNNING = ("web", "worker", "beat", "postgres", "redis", "mailcatcher")
APP_SERVICES = ("web", "worker", "beat")
# Ways a log line could carry a supporter's address: gunicorn's %(h)s, or a proxy header.
CLIENT_ADDRESS_ATOMS = re.compile(r"%\(h\)s|\{x-forwarded-for\}|\{x-real-ip\}|\{forwarded\}",
                                  re.IGNORECASE)


def compose_config(folder: Path, **env: str) -> subprocess.CompletedProcess:
    # An empty env file, so a developer's own .env cannot change what is tested.
    env_file = folder / "empty.env"
    env_file.write_text("")
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: apt-get install -y docker-compose"
    return subprocess.run([binary, "--env-file", str(env_file), "-f", "docker-compose.yml",
                           "config"], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict:
    result = compose_config(tmp_path_factory.mktemp("compose"), SECRET_KEY=SECRET_KEY)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def gunicorn_arguments(services: dict) -> list[str]:
    command = services["web"]["command"]
    assert isinstance(command, list) and command[0] == "gunicorn", command
    return command


def test_compose_refuses_to_render_without_a_secret_key(tmp_path):
    result = compose_config(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_all_services_exist_and_long_running_ones_are_health_checked(services):
    assert set(LONG_RUNNING) <= set(services)
    for name in LONG_RUNNING:
        test = services[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name


def test_app_services_get_a_complete_production_environment(services, monkeypatch):
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["CAMPAIGN_ENV"] == "production", name
        assert env["DATABASE_URL"] == "postgresql://campaign:campaign@postgres:5432/campaign"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"] == SECRET_KEY
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        assert load_config().ENV_NAME == "production"
        assert set(PRODUCTION_REQUIRED) <= set(env)


def test_web_and_worker_start_after_migrations_and_their_backing_services(services):
    assert "db upgrade" in " ".join(services["migrate"]["command"])
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["redis"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["beat"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_services_run_the_documented_commands(services):
    arguments = gunicorn_arguments(services)
    assert "wsgi:app" in arguments
    assert "--bind=0.0.0.0:8000" in arguments
    assert services["worker"]["command"][:4] == ["celery", "-A", "workers", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "workers", "beat"]
    assert services["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["mailcatcher"]["image"].startswith("axllent/mailpit")
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_gunicorn_logs_no_client_address(services):
    arguments = gunicorn_arguments(services)
    formats = [a for a in arguments if a.startswith("--access-logformat")]
    if any(a.startswith("--access-logfile") for a in arguments):
        # gunicorn's default access log format begins with %(h)s.
        assert formats, "an access log without --access-logformat records client addresses"
    for argument in arguments:
        assert not CLIENT_ADDRESS_ATOMS.search(argument), argument
    # gunicorn logs "Invalid request from ip=..." at warning level.
    assert "--log-level=error" in arguments


def test_dockerfile_default_command_logs_no_client_address():
    cmd = (ROOT / "Dockerfile").read_text().split("\nCMD ", 1)[1]
    assert "--access-logformat" in cmd and "--log-level=error" in cmd
    assert not CLIENT_ADDRESS_ATOMS.search(cmd)
