"""docker-compose.yml, as Debian's docker-compose reads it: services, health checks and
an environment the production configuration accepts."""

from __future__ import annotations

import ipaddress
import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from campaign.config import PRODUCTION_REQUIRED, load_config
from campaign.proxies import check_proxy_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "compose-test-secret-key-of-forty-characters"
LONG_RUNNING = ("web", "nginx", "worker", "beat", "postgres", "redis", "mailcatcher")
APP_SERVICES = ("web", "worker", "beat")
# Ways a log line could carry a supporter's address: gunicorn's %(h)s, or a proxy header.
CLIENT_ADDRESS_ATOMS = re.compile(r"%\(h\)s|\{x-forwarded-for\}|\{x-real-ip\}|\{forwarded\}",
                                  re.IGNORECASE)
GUNICORN_COMMAND = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


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


def gunicorn_settings(monkeypatch, **env: str) -> dict:
    """The settings gunicorn.conf.py gives gunicorn in this environment."""
    for key in [k for k in os.environ if k.startswith("GUNICORN_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


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
    assert services["web"]["command"] == GUNICORN_COMMAND
    assert services["web"]["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert services["worker"]["command"][:4] == ["celery", "-A", "workers", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "workers", "beat"]
    assert services["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["mailcatcher"]["image"].startswith("axllent/mailpit")
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_readme_and_the_dockerfile_run_gunicorn_with_its_config_file():
    assert "    " + " ".join(GUNICORN_COMMAND) in (ROOT / "README.md").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"\nCMD {GUNICORN_COMMAND!r}".replace("'", '"') in dockerfile
    assert re.search(r"^COPY .*\bgunicorn\.conf\.py\b", dockerfile, re.M)
    assert "GUNICORN_BIND=0.0.0.0:8000" in dockerfile


def test_gunicorn_uses_threads_that_slow_clients_cannot_all_hold(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["worker_class"] == "gthread"
    assert settings["workers"] >= 2 and settings["threads"] >= 8
    assert 0 < settings["request_read_timeout"] <= 30
    assert settings["bind"] == "127.0.0.1:8000"  # by hand, behind a proxy on the host
    settings = gunicorn_settings(monkeypatch, GUNICORN_WORKERS="3", GUNICORN_THREADS="4",
                                 GUNICORN_BIND="0.0.0.0:9000")
    assert (settings["workers"], settings["threads"], settings["bind"]) == (3, 4, "0.0.0.0:9000")


@pytest.mark.parametrize("env", [{"GUNICORN_THREADS": "many"}, {"GUNICORN_WORKERS": "0"},
                                 {"CAMPAIGN_ENV": "production"},
                                 {"PROXY_FIX_X_FOR": "-1"}])
def test_gunicorn_config_refuses_bad_settings(monkeypatch, env):
    monkeypatch.delenv("PROXY_FIX_X_FOR", raising=False)
    with pytest.raises(SystemExit) as refused:
        gunicorn_settings(monkeypatch, **env)
    assert next(iter(env)) in str(refused.value) or "PROXY_FIX_X_FOR" in str(refused.value)


def test_gunicorn_trusts_forwarded_headers_only_with_a_proxy(monkeypatch):
    assert gunicorn_settings(monkeypatch, PROXY_FIX_X_FOR="0")["forwarded_allow_ips"] == ""
    behind = gunicorn_settings(monkeypatch, PROXY_FIX_X_FOR="1")["forwarded_allow_ips"]
    assert "172.16.0.0/12" in behind and "0.0.0.0/0" not in behind
    assert gunicorn_settings(monkeypatch, PROXY_FIX_X_FOR="1", TRUSTED_PROXIES="10.1.2.3")[
        "forwarded_allow_ips"] == "10.1.2.3"


def test_gunicorn_logs_no_client_address(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["accesslog"] == "-"
    assert not CLIENT_ADDRESS_ATOMS.search(settings["access_log_format"])
    assert "%(q)s" not in settings["access_log_format"] and "%(r)s" not in settings[
        "access_log_format"]
    # gunicorn logs "Invalid request from ip=..." at warning level.
    assert settings["loglevel"] == "error"


def test_only_nginx_is_published_and_it_is_in_front_of_web(services):
    assert "ports" not in services["web"]
    nginx = services["nginx"]
    # docker-compose 1 renders the short syntax, docker compose 2 the long one.
    [port] = nginx["ports"]
    if isinstance(port, dict):
        port = f"{port['host_ip']}:{port['published']}:{port['target']}/{port['protocol']}"
    assert port == "127.0.0.1:8000:8080/tcp"
    [volume] = nginx["volumes"]
    if isinstance(volume, dict):
        volume = f"{volume['source']}:{volume['target']}" + (
            ":ro" if volume.get("read_only") else "")
    assert volume == f"{NGINX_CONF}:/etc/nginx/nginx.conf:ro"
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert "server web:8000;" in NGINX_CONF.read_text()
    assert "listen 8080;" in NGINX_CONF.read_text()


def test_web_believes_the_address_nginx_forwards_and_no_other(services):
    env = services["web"]["environment"]
    assert env["PROXY_FIX_X_FOR"] == "1"
    hops, networks = check_proxy_settings({**env, "ENV_NAME": "production"})
    assert hops == 1
    # compose's own networks are private; the internet is not trusted.
    assert any(n.supernet_of(ipaddress.ip_network("172.18.0.0/16"))
               for n in networks if n.version == 4)
    assert not any(n.prefixlen == 0 for n in networks)


def nginx_directives() -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for line in NGINX_CONF.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.endswith(";"):
            name, _, value = line[:-1].partition(" ")
            directives.setdefault(name, []).append(value.strip())
    return directives


def test_nginx_buffers_requests_and_answers_and_cuts_slow_clients_short():
    directives = nginx_directives()
    assert directives["proxy_request_buffering"] == ["on"]
    assert directives["proxy_buffering"] == ["on"]
    for name in ("client_header_timeout", "client_body_timeout"):
        [value] = directives[name]
        assert value.endswith("s") and 0 < int(value[:-1]) <= 30, (name, value)


def test_nginx_overwrites_forwarded_headers_and_logs_no_client_address():
    headers = dict(value.split(" ", 1) for value in nginx_directives()["proxy_set_header"])
    assert headers["X-Forwarded-For"] == "$remote_addr"  # never $proxy_add_x_forwarded_for
    assert headers["X-Forwarded-Proto"] == "$scheme"
    for cleared in ("Forwarded", "X-Real-IP", "X-Forwarded-Ssl", "X-Forwarded-Protocol"):
        assert headers[cleared] == '""'
    log_format = re.search(r"log_format private (.*?);", NGINX_CONF.read_text(), re.S).group(1)
    for leak in ("$remote_addr", "$http_x_forwarded_for", "$request_uri", "$request ",
                 "$args", "$query_string", "$http_user_agent", "$http_referer",
                 "$binary_remote_addr", "$realip_remote_addr"):
        assert leak not in log_format + " ", leak
    assert nginx_directives()["access_log"] == ["/dev/stdout private"]
