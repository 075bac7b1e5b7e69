"""The gateway: the only code that talks to Stripe (tests/donations/test_gateway_only.py
holds every other module to it).

Every call that creates something sends an idempotency key derived from our own row
(`gift-<attempt key>-payment`, `refund-<payment intent>-<refund id>`, …), so a request
retried after a timeout or a double click never makes a second charge, subscription or
refund. A gift attempt's key (campaign.donations.attempts.stripe_key) joins its id to part
of its random token's digest: ids alone repeat when a database is restored or a second
installation (staging) shares the Stripe account, and Stripe would answer a new gift with
an old one's PaymentIntent.

Shapes differ between Stripe's current API and the local Stripe-compatible server the
tests and the demo use (an invoice's PaymentIntent, a subscription's period end): each
difference is read in one helper here, never by callers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import stripe
from flask import Flask, current_app

from campaign.config import STRIPE_DEFAULT_API_BASE

# What a card-step failure looks like to callers: Stripe's own error classes stay here.
CardError = stripe.CardError
StripeError = stripe.StripeError
SignatureVerificationError = stripe.SignatureVerificationError
InvalidRequestError = stripe.InvalidRequestError  # e.g. no such object (a mistyped id)

WEBHOOK_TOLERANCE_SECONDS = 300


class GivingNotConfigured(RuntimeError):
    """No STRIPE_SECRET_KEY: online giving is off."""


def as_dict(obj: Any) -> dict:
    """A Stripe object (or a plain dict from an event's payload) as a plain dict."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()


def object_id(value: Any) -> str | None:
    """An expandable field's id, whether Stripe sent the id or the object."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None)


def invoice_payment_intent_id(invoice: Any) -> str | None:
    """The PaymentIntent that paid (or tries to pay) an invoice: `payments` on the current
    API, `confirmation_secret` while open, `payment_intent` on older shapes."""
    data = as_dict(invoice)
    for payment in (data.get("payments") or {}).get("data", []) or []:
        pi = object_id((payment.get("payment") or {}).get("payment_intent"))
        if pi:
            return pi
    secret = (data.get("confirmation_secret") or {}).get("client_secret")
    if secret and "_secret_" in secret:
        return secret.split("_secret_")[0]
    return object_id(data.get("payment_intent"))


def invoice_subscription_id(invoice: Any) -> str | None:
    """The subscription an invoice bills: `parent.subscription_details` on the current API,
    `subscription` on older shapes."""
    data = as_dict(invoice)
    details = (data.get("parent") or {}).get("subscription_details") or {}
    return object_id(details.get("subscription")) or object_id(data.get("subscription"))


def invoice_period_end(invoice: Any) -> int | None:
    """The end of the period an invoice paid for (Unix time): its lines' latest end."""
    ends = [int((line.get("period") or {}).get("end") or 0)
            for line in (as_dict(invoice).get("lines") or {}).get("data", []) or []]
    return max(ends) if ends and max(ends) else None


def subscription_period_end(subscription: Any) -> int | None:
    """When a subscription next charges (Unix time): on its items in the current API,
    on the subscription itself in older shapes."""
    data = as_dict(subscription)
    for item in (data.get("items") or {}).get("data", []) or []:
        if item.get("current_period_end"):
            return int(item["current_period_end"])
    end = data.get("current_period_end")
    return int(end) if end else None


def subscription_quantity(subscription: Any) -> tuple[str | None, int]:
    """(item id, quantity) of a monthly gift's one item: the amount in minor units."""
    data = as_dict(subscription)
    items = (data.get("items") or {}).get("data", []) or []
    if items:
        return items[0].get("id"), int(items[0].get("quantity") or 0)
    return None, int(data.get("quantity") or 0)


def unit_plan_id(currency: str) -> str:
    # A monthly gift is this plan (1 minor unit a month) times the amount, so changing a
    # gift's amount changes a quantity, not the plan, and one plan per currency serves all.
    return f"campaign-monthly-gift-{currency}"


@dataclass
class Gateway:
    client: stripe.StripeClient
    webhook_secret: str | None
    api_base: str

    @property
    def is_local(self) -> bool:
        """True when Stripe is the local Stripe-compatible server (tests, the demo)."""
        return self.api_base != STRIPE_DEFAULT_API_BASE

    # -- one-time gifts ------------------------------------------------------------------
    def create_payment_intent(self, attempt_id: int, amount: int, currency: str,
                              email: str, description: str,
                              metadata: dict[str, str], *, key: str | None = None) -> Any:
        return self.client.v1.payment_intents.create(
            params={"amount": amount, "currency": currency, "payment_method_types": ["card"],
                    "description": description, "receipt_email": email,
                    "metadata": {"gift_attempt": str(attempt_id), **metadata}},
            options={"idempotency_key": f"gift-{key or attempt_id}-payment"})

    def retrieve_payment_intent(self, payment_intent_id: str) -> Any:
        return self.client.v1.payment_intents.retrieve(payment_intent_id)

    def retrieve_charge(self, charge_id: str) -> Any:
        return self.client.v1.charges.retrieve(charge_id)

    def payment_intent_charge(self, payment_intent: Any) -> dict:
        """The PaymentIntent's latest charge as a dict (Stripe sends its id; the local
        server the whole object)."""
        latest = as_dict(payment_intent).get("latest_charge")
        if isinstance(latest, dict):
            return latest
        if latest:
            return as_dict(self.retrieve_charge(latest))
        charges = (as_dict(payment_intent).get("charges") or {}).get("data") or []
        return charges[-1] if charges else {}

    # -- monthly gifts: card saved first (a SetupIntent), then the subscription -----------
    def create_customer(self, attempt_id: int, email: str, name: str, *,
                        key: str | None = None) -> Any:
        return self.client.v1.customers.create(
            params={"email": email, "name": name,
                    "metadata": {"gift_attempt": str(attempt_id)}},
            options={"idempotency_key": f"gift-{key or attempt_id}-customer"})

    def create_setup_intent(self, attempt_id: int, customer_id: str, *,
                            key: str | None = None) -> Any:
        return self.client.v1.setup_intents.create(
            params={"customer": customer_id, "payment_method_types": ["card"],
                    "usage": "off_session",
                    "metadata": {"gift_attempt": str(attempt_id)}},
            options={"idempotency_key": f"gift-{key or attempt_id}-setup"})

    def retrieve_setup_intent(self, setup_intent_id: str) -> Any:
        return self.client.v1.setup_intents.retrieve(setup_intent_id)

    def make_default_card(self, customer_id: str, payment_method_id: str) -> None:
        """Attaches the saved card to the customer (Stripe does so itself; the local server
        does not) and makes it the card every invoice charges."""
        method = self.client.v1.payment_methods.retrieve(payment_method_id)
        if not object_id(as_dict(method).get("customer")):
            self.client.v1.payment_methods.attach(payment_method_id,
                                                  params={"customer": customer_id})
        self.client.v1.customers.update(
            customer_id, params={"invoice_settings": {"default_payment_method":
                                                      payment_method_id}})

    def ensure_unit_plan(self, currency: str) -> str:
        plan_id = unit_plan_id(currency)
        try:
            self.client.v1.plans.retrieve(plan_id)
        except stripe.InvalidRequestError:
            self.client.v1.plans.create(
                params={"id": plan_id, "amount": 1, "currency": currency, "interval": "month",
                        "product": {"name": f"Monthly gift ({currency.upper()})"}},
                options={"idempotency_key": f"plan-{plan_id}"})
        return plan_id

    def create_subscription(self, attempt_id: int, customer_id: str, amount: int,
                            currency: str, metadata: dict[str, str], *,
                            key: str | None = None) -> Any:
        plan_id = self.ensure_unit_plan(currency)
        return self.client.v1.subscriptions.create(
            params={"customer": customer_id, "items": [{"plan": plan_id, "quantity": amount}],
                    "metadata": {"gift_attempt": str(attempt_id), **metadata}},
            options={"idempotency_key": f"gift-{key or attempt_id}-subscription"})

    def retrieve_subscription(self, subscription_id: str) -> Any:
        return self.client.v1.subscriptions.retrieve(subscription_id)

    def retrieve_invoice(self, invoice_id: str) -> Any:
        params = {} if self.is_local else {"expand": ["payments"]}
        return self.client.v1.invoices.retrieve(invoice_id, params=params)

    def subscription_first_payment(self, subscription: Any) -> Any | None:
        """The PaymentIntent of a new subscription's first invoice, or None when paid."""
        invoice_id = object_id(as_dict(subscription).get("latest_invoice"))
        if not invoice_id:
            return None
        invoice = self.client.v1.invoices.retrieve(
            invoice_id, params={"expand": ["confirmation_secret"]})
        pi_id = invoice_payment_intent_id(invoice)
        return self.retrieve_payment_intent(pi_id) if pi_id else None

    def cancel_subscription(self, subscription_id: str) -> Any:
        return self.client.v1.subscriptions.cancel(subscription_id)

    def change_subscription_amount(self, subscription_id: str, amount: int,
                                   idempotency_key: str) -> Any:
        item_id, _ = subscription_quantity(self.retrieve_subscription(subscription_id))
        params: dict = {"items": [{"id": item_id, "quantity": amount}]}
        if not self.is_local:  # the local server refuses it; it never prorates anyway
            params["proration_behavior"] = "none"  # the new amount starts next month
        return self.client.v1.subscriptions.update(
            subscription_id, params=params, options={"idempotency_key": idempotency_key})

    # -- a monthly donor's new card, after a failed payment (campaign.donations.self_service)
    def create_card_update_setup_intent(self, monthly_gift_id: int, customer_id: str,
                                        attempt: str) -> Any:
        """A SetupIntent saving a new card for the gift's customer; `attempt` tells one
        card-update link from another, so reloading a page reuses its SetupIntent."""
        return self.client.v1.setup_intents.create(
            params={"customer": customer_id, "payment_method_types": ["card"],
                    "usage": "off_session",
                    "metadata": {"monthly_gift": str(monthly_gift_id)}},
            options={"idempotency_key":
                     f"monthly-gift-{monthly_gift_id}-{customer_id}-card-{attempt}"})

    def pay_open_invoices(self, subscription_id: str, idempotency_prefix: str) -> dict[str, str]:
        """Charges the subscription's open (unpaid) invoices now, on the customer's default
        card; returns each one's status after ('paid', or 'open' when the card failed on
        the local server). Stripe itself raises CardError for a declined card."""
        outcome = {}
        invoices = self.client.v1.invoices.list(
            params={"subscription": subscription_id, "limit": 10})
        for invoice in invoices.data:
            data = as_dict(invoice)
            if data.get("status") != "open":
                continue
            result = self.client.v1.invoices.pay(
                data["id"], options={"idempotency_key": f"{idempotency_prefix}-{data['id']}"})
            outcome[data["id"]] = as_dict(result).get("status") or ""
        return outcome

    # -- refunds -------------------------------------------------------------------------
    def refund(self, refund_id: int, payment_intent_id: str, amount: int) -> Any:
        return self.client.v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": amount},
            # The PaymentIntent too: refund ids of a restored or second database can repeat.
            options={"idempotency_key": f"refund-{payment_intent_id}-{refund_id}"})

    # -- webhooks ------------------------------------------------------------------------
    def verify_webhook(self, payload: bytes, signature_header: str | None) -> None:
        """Raises SignatureVerificationError unless Stripe-Signature signs `payload` with our
        webhook secret within the tolerance; ValueError if there is no secret or header."""
        if not self.webhook_secret or not signature_header:
            raise ValueError("no webhook secret or no Stripe-Signature header")
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature_header,
                                              self.webhook_secret, WEBHOOK_TOLERANCE_SECONDS)

    # -- records, for reconciliation -----------------------------------------------------
    def payment_intents(self, created_from: int, created_before: int) -> Iterator[dict]:
        """Every PaymentIntent created in [created_from, created_before)."""
        yield from self._listed(self.client.v1.payment_intents, created_from, created_before)

    def subscriptions(self, created_from: int, created_before: int) -> Iterator[dict]:
        yield from self._listed(self.client.v1.subscriptions, created_from, created_before,
                                {"status": "all"})

    def _listed(self, service, created_from: int, created_before: int,
                extra: dict | None = None) -> Iterator[dict]:
        params: dict = {"limit": 100, **(extra or {})}
        if not self.is_local:  # the local server refuses `created`; we filter below
            params["created"] = {"gte": created_from, "lt": created_before}
        for obj in service.list(params=params).auto_paging_iter():
            data = as_dict(obj)
            if created_from <= int(data.get("created") or 0) < created_before:
                yield data


def gateway_from_config(config: dict) -> Gateway | None:
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        return None
    base = (config.get("STRIPE_API_BASE") or STRIPE_DEFAULT_API_BASE).rstrip("/")
    client = stripe.StripeClient(
        key, base_addresses={"api": base}, max_network_retries=2,
        # A supporter waits on some of these calls: fail within seconds, not a minute.
        http_client=stripe.RequestsClient(timeout=20))
    return Gateway(client=client, webhook_secret=config.get("STRIPE_WEBHOOK_SECRET"),
                   api_base=base)


def init_gateway(app: Flask) -> None:
    app.extensions["stripe_gateway"] = gateway_from_config(app.config)
    # The SDK logs three INFO lines per call (a worker applying events makes thousands);
    # its warnings and errors still show.
    logging.getLogger("stripe").setLevel(logging.WARNING)


def gateway() -> Gateway:
    found = current_app.extensions.get("stripe_gateway")
    if found is None:
        raise GivingNotConfigured("Online giving is off: STRIPE_SECRET_KEY is not set.")
    return found


def giving_configured() -> bool:
    return current_app.extensions.get("stripe_gateway") is not None


def payments_simulated() -> bool:
    """True when payments go to the local Stripe-compatible server: pages say so."""
    found = current_app.extensions.get("stripe_gateway")
    return found is not None and found.is_local
