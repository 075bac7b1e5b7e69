"""A local Stripe-compatible server for the tests and the demo: localstripe on 127.0.0.1.

    python tests/tools/localstripe_local.py [--port 0] [--store -|PATH]
        [--webhook URL --webhook-secret WHSEC] [--no-compat]

Prints "LOCALSTRIPE_PORT=<port>" once the socket is bound (port 0 picks a free one).

localstripe is GPL-3.0-or-later: it runs as this separate process and nothing under
campaign/ or workers/ imports it (tests/donations/test_gateway.py checks). The compat shims
below poke its internals, so localstripe is pinned (pyproject.toml); they fill the gaps
measured on this machine (the team's notes on testing Stripe with localstripe):

1. PaymentIntent accepts `description`, `receipt_email`, `statement_descriptor_suffix`,
   `setup_future_usage`, `automatic_payment_methods` (it refuses them otherwise).
2. Subscription items may name a `price` (an alias of the Plan id).
3. The current API's shapes: `invoice.confirmation_secret` and items' `current_period_*`.
4. `invoice.paid` is sent beside `invoice.payment_succeeded`, as Stripe does.
5. An `Idempotency-Key` replays the first answer for the same key and path, as Stripe does.
6. Stripe.js's `confirmCardPayment(secret, {payment_method: {card}})` works (upstream
   issue #253), through a route of its own.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import socket

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.webhooks import register_webhook


def keep_store_at(path: str) -> None:
    # localstripe writes a pickle to the system temp folder after every change and loads it
    # at start: start empty, and keep the state in memory ("-") or where we are told.
    def dump(self):
        if path != "-":
            with open(path, "wb") as handle:
                pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump
    resources.Store.try_load_from_disk = lambda self: None


STRIPE_JS_SHIM = r"""
;(function () {
  // confirmCardPayment(secret, {payment_method: {card: element}}), as Stripe.js has it.
  const base = LOCALSTRIPE_BASE_API, fakeStripe = Stripe;
  Stripe = (key) => {
    const stripe = fakeStripe(key), fake3ds = stripe.confirmCardPayment;
    stripe.confirmCardPayment = async (clientSecret, data) => {
      const pm = data && data.payment_method;
      if (pm && pm.card && pm.card.value) {
        const id = clientSecret.match(/^(pi_\w+)_secret_/)[1];
        const answer = await fetch(`${base}/_config/payment_intents/${id}/confirm_with_card`, {
          method: 'POST',
          body: JSON.stringify({client_secret: clientSecret, card: pm.card.value.card,
                                billing_details: pm.billing_details || {}})});
        const body = await answer.json().catch(() => ({}));
        if (answer.status !== 200 || body.error) return {error: body.error};
        if (body.status !== 'requires_action') return {paymentIntent: body};
      }
      const result = await fake3ds(clientSecret, data);  // the fake 3-D Secure dialog
      const pi = result.paymentIntent;  // Stripe.js reports a failed 3-D Secure as an error
      if (pi && pi.status === 'requires_payment_method' && pi.last_payment_error)
        return {error: {type: 'card_error', ...pi.last_payment_error, payment_intent: pi}};
      return result;
    };
    return stripe;
  };
})();
"""


def own_element_class(script: str) -> str:
    """The fake Stripe.js declares its card element as a top-level `class Element`, which
    shadows the DOM's `Element` for every script of the page (web components such as the
    ALTCHA widget then fail: "Cannot convert undefined or null to object"). Real Stripe.js
    declares no globals but `Stripe`; the fake's class gets a name of its own."""
    return (script.replace("class Element {", "class LocalstripeCardElement {")
            .replace("new Element(this)", "new LocalstripeCardElement(this)")
            .replace("instanceof Element)", "instanceof LocalstripeCardElement)"))


def add_compat(app: web.Application) -> None:
    R = resources
    extra_params = ("description", "receipt_email", "statement_descriptor_suffix",
                    "setup_future_usage", "automatic_payment_methods")
    original_pi_init = R.PaymentIntent.__init__

    def pi_init(self, **params):
        kept = {name: params.pop(name, None) for name in extra_params}
        original_pi_init(self, **params)
        for name, value in kept.items():
            setattr(self, name, value)

    R.PaymentIntent.__init__ = pi_init

    def price_as_plan(items):
        for item in items or []:
            if isinstance(item, dict) and "price" in item and "plan" not in item:
                item["plan"] = item.pop("price")

    original_sub_init, original_sub_update = R.Subscription.__init__, R.Subscription._update

    def sub_init(self, items=None, **params):
        price_as_plan(items)
        original_sub_init(self, items=items, **params)

    def sub_update(self, items=None, **params):
        price_as_plan(items)
        return original_sub_update(self, items=items, **params)

    R.Subscription.__init__, R.Subscription._update = sub_init, sub_update

    def confirmation_secret(invoice):
        if invoice.payment_intent:
            pi = R.PaymentIntent._api_retrieve(invoice.payment_intent)
            return {"client_secret": pi.client_secret, "type": "payment_intent"}
        return None

    R.Invoice.confirmation_secret = property(confirmation_secret)
    R.SubscriptionItem.current_period_start = property(lambda i: i._current_period()["start"])
    R.SubscriptionItem.current_period_end = property(lambda i: i._current_period()["end"])

    original_on_paid = R.Invoice._on_payment_success

    def on_paid(self):
        original_on_paid(self)
        R.schedule_webhook(R.Event("invoice.paid", self))

    R.Invoice._on_payment_success = on_paid

    answered: dict[tuple[str, str], tuple[int, str]] = {}

    @web.middleware
    async def idempotency(request, handler):
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key and (key, request.path) in answered:
            status, body = answered[(key, request.path)]
            return web.Response(status=status, text=body, content_type="application/json")
        response = await handler(request)
        if key and response.status < 500 and getattr(response, "text", None) is not None:
            answered[(key, request.path)] = (response.status, response.text)
        return response

    @web.middleware
    async def stripe_js(request, handler):
        response = await handler(request)
        if request.method == "GET" and request.path == "/js.stripe.com/v3/":
            return web.Response(text=own_element_class(response.text) + STRIPE_JS_SHIM,
                                content_type="application/javascript")
        return response

    app.middlewares.append(idempotency)
    app.middlewares.append(stripe_js)

    async def confirm_with_card(request):
        data = await request.json()
        pi = R.PaymentIntent._api_retrieve(request.match_info["id"])
        if data.get("client_secret") != pi.client_secret:
            raise UserError(401, "Unauthorized")
        if pi.status not in ("requires_payment_method", "requires_confirmation"):
            raise UserError(400, "PaymentIntent has status " + pi.status)
        card = data.get("card") or {}
        method = R.PaymentMethod(
            type="card", billing_details=data.get("billing_details") or None,
            card={k: card.get(k) for k in ("number", "exp_month", "exp_year", "cvc")})
        pi.payment_method, pi.latest_charge, pi._authentication_failed = method.id, None, False
        pi._confirm(on_failure_now=pi._report_failure)  # a declined card raises 402
        return server.json_response(pi._export())

    app.router.add_post("/_config/payment_intents/{id}/confirm_with_card", confirm_with_card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--store", default="-")
    parser.add_argument("--webhook", help="URL that receives the signed events")
    parser.add_argument("--webhook-secret", default="whsec_local_simulated")
    parser.add_argument("--no-compat", action="store_true")
    args = parser.parse_args()
    keep_store_at(args.store)
    if not args.no_compat:
        add_compat(server.app)
    if args.webhook:
        register_webhook("campaign", args.webhook, args.webhook_secret, None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))  # loopback only, never every interface
    print(f"LOCALSTRIPE_PORT={sock.getsockname()[1]}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s localstripe %(message)s")
    web.run_app(server.app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
