"""How the contract suite (test_contract.py) makes due rows for each drain and reads them back.

Each adapter makes N due rows, claims as a worker would, names the keys a delivery carries
(an email's Message-ID, for a digest the letters in it, for a Stripe event the payment it
recorded), reads the rows' states, and makes a delivery fail for a while or for good. Mail
drains share MailAdapter: their deliveries are what the test mail server received, and
the server's 451 or 550 reply fails one.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from campaign.extensions import db
from campaign.mail.messages import stable_message_id

MAIL_FROM = "campaign@example.org"


@dataclass
class Fixtures:
    letter_page: object
    write_letters: object
    create_page: object
    query: object


class MailAdapter:
    """What every mail drain shares: deliveries are received emails."""

    claimed_state = "sending"
    done_state = "sent"
    crash_rows = 120  # due rows when a worker is killed

    def keys_of(self, mail) -> list[str]:
        return [mail.message["Message-ID"]]

    def deliveries(self, smtp_sink, query, *, wait_for: int | None = None,
                   settle: bool = True, timeout: float = 30) -> list[list[str]]:
        """The keys of each email received (once `wait_for` have come, and, with `settle`,
        once nothing more is arriving)."""
        if wait_for:
            smtp_sink.wait_for(wait_for, timeout=timeout)
        mails = smtp_sink.settled() if settle else smtp_sink.received
        return [self.keys_of(mail) for mail in mails]

    def fail_next(self, flask_app, app_settings, smtp_sink, *, permanent: bool):
        """The mail server refuses the next message; the app to run the drain in."""
        smtp_sink.reply_next("550 5.1.1 Mailbox unknown" if permanent
                             else "451 4.3.0 Mailbox busy, try later")
        return flask_app

    def slow_down(self, smtp_sink) -> None:
        smtp_sink.handler.delay = 0.05  # messages stay in flight when the worker dies


class ThankYous(MailAdapter):
    waiting_state = "pending"
    failed_state = "failed"

    def make_due(self, f: Fixtures, flask_app, count: int) -> None:
        from campaign.pages.services import load_page_view
        from campaign.supporters.services import Signature, record_signature

        slug = f.create_page()
        with flask_app.app_context():
            page_id = load_page_view(slug).id
            for n in range(count):
                record_signature(page_id, Signature(email=f"signer{n}@example.org",
                                                    first_name="Min", last_name="Seo"), "v1")
            db.session.commit()

    def claim(self, limit: int) -> list[int]:
        from campaign.supporters.services import claim_thank_yous

        return claim_thank_yous(limit)

    def keys(self, query, state: str | None = None) -> set[str]:
        where = "WHERE thank_you_status = :state" if state else ""
        return {stable_message_id(f"thank-you:{action_id}", MAIL_FROM) for (action_id,)
                in query(f"SELECT id FROM actions {where}", state=state)}

    def keys_of(self, mail) -> list[str]:
        return [mail.message["Message-ID"]]

    def states(self, query) -> list[str]:
        return [s for (s,) in query("SELECT thank_you_status FROM actions ORDER BY id")]

    def end_backoff(self, flask_app) -> None:
        _execute(flask_app, "UPDATE actions SET thank_you_next_attempt_at = now()")

    def check_failure(self, query) -> None:
        [(attempts, error)] = query("SELECT thank_you_attempts, thank_you_error FROM actions")
        assert attempts == 1 and error.startswith("550")


class Letters(MailAdapter):
    waiting_state = "queued"
    failed_state = "batched"

    def make_due(self, f: Fixtures, flask_app, count: int) -> None:
        targets = [("Embassy Desk", "Ambassador", "embassy@example.org"),
                   ("UN Mission", "Representative", "mission@example.org")]
        per_letter = 2 if count % 2 == 0 else 1
        slug, _ = f.letter_page(targets=targets[:per_letter], target_hourly_cap=100000)
        f.write_letters(slug, count=count // per_letter, flask_app=flask_app)
        _letters_alone(flask_app)

    def claim(self, limit: int) -> list[int]:
        from campaign.letters.delivery import claim_letters
        from campaign.letters.services import get_settings

        return [letter.id for letter in claim_letters(limit, get_settings).to_send]

    def keys(self, query, state: str | None = None) -> set[str]:
        where = "WHERE status = :state" if state else ""
        return {stable_message_id(key, MAIL_FROM) for (key,) in query(
            f"SELECT idempotency_key FROM letters {where}", state=state)}

    def keys_of(self, mail) -> list[str]:
        return [mail.message["Message-ID"]]

    def states(self, query) -> list[str]:
        return [s for (s,) in query("SELECT status FROM letters ORDER BY id")]

    def end_backoff(self, flask_app) -> None:
        _execute(flask_app, "UPDATE letters SET next_attempt_at = now()")

    def check_failure(self, query) -> None:
        [(letter_id, channel, error)] = query("SELECT id, channel, last_error FROM letters")
        assert channel == "fallback" and error.startswith("550")
        assert [s for (s,) in query("SELECT status FROM letter_events WHERE letter_id = :id "
                                    "ORDER BY id", id=letter_id)] == [
            "queued", "sending", "failed", "batched"]
        assert query("SELECT status FROM fallback_batches") == [("open",)]


PLEA = re.compile(r"Plea (\d+)\.")


class Digests(MailAdapter):
    """One office's digest carries its waiting letters; each letter here is one office's,
    marked in its body so a received digest says which letters it carried."""

    waiting_state = "queued"
    failed_state = "batched"

    def make_due(self, f: Fixtures, flask_app, count: int) -> None:
        slug, _ = f.letter_page(targets=[(f"Office {n}", "Ambassador",
                                          f"office{n}@example.org") for n in range(count)],
                                target_hourly_cap=1, over_cap="digest")
        f.write_letters(slug, count=1, flask_app=flask_app)
        with flask_app.app_context():  # over the cap: as the delivery run leaves them
            db.session.execute(text("UPDATE letters SET channel = 'digest', "
                                    "body = 'Plea ' || id || '.'"))
            db.session.commit()
        _letters_alone(flask_app)

    def claim(self, limit: int) -> list[int]:
        from campaign.letters import digests

        claimed: list[int] = []
        for target_id in digests.targets_with_waiting_digest_letters():
            if len(claimed) >= limit:
                break
            digest = digests.claim_digest(target_id)
            if digest is not None:
                claimed += [letter.id for letter in digests.digest_letters(digest)]
        return claimed

    def keys(self, query, state: str | None = None) -> set[str]:
        where = "WHERE status = :state" if state else ""
        return {f"letter:{letter_id}" for (letter_id,) in query(
            f"SELECT id FROM letters {where}", state=state)}

    def keys_of(self, mail) -> list[str]:
        body = mail.message.get_body(("plain",)).get_content()
        return [f"letter:{n}" for n in PLEA.findall(body)]

    def states(self, query) -> list[str]:
        return [s for (s,) in query("SELECT status FROM letters ORDER BY id")]

    def end_backoff(self, flask_app) -> None:
        pass  # a digest that failed gives its letters back at once, for the next run

    def check_failure(self, query) -> None:
        assert query("SELECT channel FROM letters") == [("fallback",)]
        [(status, error)] = query("SELECT status, last_error FROM letter_digests")
        assert status == "failed" and error.startswith("550")


def _execute(flask_app, sql: str) -> None:
    with flask_app.app_context():
        db.session.execute(text(sql))
        db.session.commit()


def _letters_alone(flask_app) -> None:
    """Letters alone are under test: the supporters' receipts are out of the way."""
    _execute(flask_app, "UPDATE actions SET thank_you_status = 'sent'")


class DonorEmails(MailAdapter):
    """Receipts of one-time donations, a donor each, made straight in the ledger's tables."""

    waiting_state = "pending"
    failed_state = "failed"

    def make_due(self, f: Fixtures, flask_app, count: int) -> None:
        from campaign.common.types import utcnow
        from campaign.donations.donor_emails import queue_donor_email
        from campaign.donations.models import Donation, DonorEmailKind
        from campaign.pages.services import load_page_view
        from campaign.supporters.models import Supporter

        slug = f.create_page()
        with flask_app.app_context():
            page_id = load_page_view(slug).id
            for n in range(count):
                supporter = Supporter(email=f"donor{n}@example.org", first_name="Min",
                                      last_name="Seo")
                db.session.add(supporter)
                db.session.flush()
                donation = Donation(
                    stripe_payment_intent_id=f"pi_contract_{n}", action_page_id=page_id,
                    supporter_id=supporter.id, frequency="one_time", amount=2500,
                    fee_covered=0, currency="usd", charged_at=utcnow())
                db.session.add(donation)
                db.session.flush()
                queue_donor_email(db.session, DonorEmailKind.RECEIPT,
                                  f"receipt:{donation.id}", donation_id=donation.id,
                                  supporter_id=supporter.id)
            db.session.commit()

    def claim(self, limit: int) -> list[int]:
        from campaign.donations.mailer import claim_donor_emails

        return claim_donor_emails(limit)

    def keys(self, query, state: str | None = None) -> set[str]:
        where = "WHERE status = :state" if state else ""
        return {stable_message_id(key, MAIL_FROM) for (key,) in query(
            f"SELECT dedupe_key FROM donor_emails {where}", state=state)}

    def keys_of(self, mail) -> list[str]:
        return [mail.message["Message-ID"]]

    def states(self, query) -> list[str]:
        return [s for (s,) in query("SELECT status FROM donor_emails ORDER BY id")]

    def end_backoff(self, flask_app) -> None:
        _execute(flask_app, "UPDATE donor_emails SET next_attempt_at = now()")

    def check_failure(self, query) -> None:
        [(attempts, error)] = query("SELECT attempts, last_error FROM donor_emails")
        assert attempts == 1 and error.startswith("550")



class StripeEvents:
    """The donations' events drain: a delivery is one event applied to the ledger, seen as
    the receipt it queued for the payment it recorded (one receipt per Donation: a second
    application finds the row and queues nothing). An event fails while Stripe cannot be
    reached for its re-fetch; for good once that happened DONATION_EVENT_MAX_ATTEMPTS
    times."""

    waiting_state = "pending"
    claimed_state = "applying"
    done_state = "applied"
    failed_state = "failed"
    # Applying an event takes a Stripe round trip, not an SMTP one: more rows keep the
    # killed worker's batches in flight.
    crash_rows = 300
    # Nothing listens here: Stripe's API "down" for the failing runs.
    UNREACHABLE_API = "http://127.0.0.1:9"

    def __init__(self) -> None:
        self._failing_apps: dict[bool, object] = {}

    def make_due(self, f: Fixtures, flask_app, count: int) -> None:
        from campaign.donations.events import store_event

        run = uuid.uuid4().hex[:8]
        with flask_app.app_context():
            for n in range(count):
                # A payment Stripe does not know (the ledger takes the event's own object),
                # of an attempt the database does not hold.
                pi = {"id": f"pi_contract_{run}_{n}", "object": "payment_intent",
                      "status": "succeeded", "amount": 1000 + n, "amount_received": 1000 + n,
                      "currency": "usd", "created": int(time.time()), "latest_charge": None,
                      "metadata": {"gift_attempt": "2147480000"}}
                body = json.dumps({"id": f"evt_contract_{run}_{n}", "object": "event",
                                   "type": "payment_intent.succeeded",
                                   "created": int(time.time()), "data": {"object": pi}})
                store_event(f"evt_contract_{run}_{n}", "payment_intent.succeeded",
                            int(time.time()), body)

    def claim(self, limit: int) -> list[str]:
        from campaign.donations.events import claim_events

        return claim_events(limit)

    def keys(self, query, state: str | None = None) -> set[str]:
        where = "WHERE status = :state" if state else ""
        return {json.loads(payload)["data"]["object"]["id"] for (payload,) in query(
            f"SELECT payload FROM stripe_events {where}", state=state)}

    def deliveries(self, smtp_sink, query, *, wait_for: int | None = None,
                   settle: bool = True, timeout: float = 30) -> list[list[str]]:
        deadline = time.monotonic() + timeout
        while True:
            receipts = [[pi] for (pi,) in query(
                "SELECT d.stripe_payment_intent_id FROM donor_emails e "
                "JOIN donations d ON d.id = e.donation_id WHERE e.kind = 'receipt' "
                "ORDER BY e.id")]
            if len(receipts) >= (wait_for or 0):
                return receipts
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {wait_for} events applied, got {len(receipts)}")
            time.sleep(0.05)

    def states(self, query) -> list[str]:
        return [s for (s,) in query("SELECT status FROM stripe_events ORDER BY id")]

    def end_backoff(self, flask_app) -> None:
        _execute(flask_app, "UPDATE stripe_events SET claimed_at = NULL "
                            "WHERE status = 'pending'")

    def fail_next(self, flask_app, app_settings, smtp_sink, *, permanent: bool):
        """The app with Stripe out of reach (and, for good, one try allowed)."""
        from campaign import create_app

        if permanent not in self._failing_apps:
            self._failing_apps[permanent] = create_app({
                **app_settings, "STRIPE_API_BASE": self.UNREACHABLE_API,
                "DONATION_EVENT_MAX_ATTEMPTS": 1 if permanent else 8})
        return self._failing_apps[permanent]

    def check_failure(self, query) -> None:
        [(attempts, error)] = query("SELECT attempts, last_error FROM stripe_events")
        assert attempts == 1 and error.startswith("APIConnectionError"), error
        assert query("SELECT count(*) FROM donations") == [(0,)]

    def slow_down(self, smtp_sink) -> None:
        pass  # each event's re-fetch from Stripe is its time in flight



ADAPTERS = {"supporters.send_thank_yous": ThankYous(), "letters.deliver": Letters(),
            "letters.send_digests": Digests(), "donations.send_donor_emails": DonorEmails(),
            "donations.apply_events": StripeEvents()}
# Digests go out when beat runs them, not when a row is written: the crash test asks for
# their runs as beat would.
BEAT_DRIVEN = {"letters.send_digests"}
