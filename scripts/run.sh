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
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[simulated-payments]'
  touch "$stamp"
fi

export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask seed-demo
.venv/bin/flask import-representatives --legislators data/us-congress/legislators-current.yaml \
  --zips data/us-congress/zccd.csv

# Giving without a Stripe account: with no STRIPE_SECRET_KEY, a local Stripe-compatible
# server (localstripe, its own process, on loopback) takes the payments, and donation
# pages say plainly that they are simulated. Test cards: 4242 4242 4242 4242 succeeds,
# 4000 0025 0000 3155 asks for 3-D Secure, 4000 0000 0000 0341 is declined.
if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  fifo="$(mktemp -u)"; mkfifo "$fifo"
  .venv/bin/python tests/tools/localstripe_local.py --port 0 --store - \
    --webhook "http://127.0.0.1:${PORT:-5000}/stripe/webhook" \
    --webhook-secret whsec_simulated_payments >"$fifo" 2>/dev/null &
  localstripe_pid=$!
  trap 'kill "$localstripe_pid" 2>/dev/null' EXIT
  read -r line <"$fifo"; rm -f "$fifo"
  stripe_base="http://127.0.0.1:${line#LOCALSTRIPE_PORT=}"
  export STRIPE_SECRET_KEY=sk_test_simulated_payments STRIPE_PUBLISHABLE_KEY=pk_test_simulated_payments
  export STRIPE_WEBHOOK_SECRET=whsec_simulated_payments STRIPE_API_BASE="$stripe_base"
  export STRIPE_JS_URL="$stripe_base/js.stripe.com/v3/"
  echo "Payments are simulated by a local Stripe-compatible server at $stripe_base"
fi

echo "Open http://127.0.0.1:${PORT:-5000}/ ; thank-you emails land in ${OUTBOX_DIR:-instance/outbox/}"
.venv/bin/flask run --host 127.0.0.1 --port "${PORT:-5000}"
