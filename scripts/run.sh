#!/usr/bin/env bash
# The README's run command: the app on its embedded default at http://127.0.0.1:5000
# (SQLite under instance/, tasks in-process, mail written to instance/outbox/),
# with the demo campaign seeded. Set PORT to use another port.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Install (again) only when pyproject.toml changed since the last install.
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if ! ls "$stamp"* >/dev/null 2>&1; then  # the test command's install counts too
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.'
  touch "$stamp"
fi

export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask seed-demo
.venv/bin/flask import-representatives --legislators data/us-congress/legislators-current.yaml \
  --zips data/us-congress/zccd.csv
echo "Open http://127.0.0.1:${PORT:-5000}/ ; thank-you emails land in ${OUTBOX_DIR:-instance/outbox/}"
exec .venv/bin/flask run --host 127.0.0.1 --port "${PORT:-5000}"
