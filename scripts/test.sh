#!/usr/bin/env bash
# The README's test command: installs what the suite needs, then runs all of it.
#
# Uses TEST_DATABASE_URL / TEST_REDIS_URL when set; otherwise the tests start throwaway
# PostgreSQL and Redis servers from Debian's packages (installed here when missing) and
# stop them afterwards. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
if [ -z "${TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_packages+=(postgresql)
fi
if [ -z "${TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then
  apt_packages+=(redis-server)
fi
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v docker-compose >/dev/null || apt_packages+=(docker-compose)
# tests/deploy runs the committed deploy/nginx.conf in a real nginx.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_packages+=(nginx)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${apt_packages[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Install (again) only when pyproject.toml changed since the last install.
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-test"
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi

.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
