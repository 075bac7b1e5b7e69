"""The amount step and the card step's server calls, against real PostgreSQL, Redis and
the local Stripe-compatible server: every bad input is a 4xx with the form again and no
row, every card-testing defence refuses and is counted, a retried start never makes a
second PaymentIntent, and zero-decimal currencies keep whole units."""

from __future__ import annotations

import pytest

from campaign.security import CONTENT_SECURITY_POLICY
from tests.donations.giving import (
    KRW,
    donation_page,
    finish,
    open_card_step,
    pay_with_card,
    post_gift,
    solved_challenge,
    start,
    stripe_client,
)


@pytest.fixture
def slug(app, create_page):
    return donation_page(app, create_page)


def attempts(query):
    return query("SELECT amount, fee_amount, currency, frequency, email, status "
                 "FROM gift_attempts ORDER BY id")


def blocks(query):
    return dict(query("SELECT reason, blocked FROM gift_block_counts"))


def test_the_donation_page_shows_our_own_amount_form_and_money_raised(client, slug):
    html = client.get(f"/a/{slug}").get_data(as_text=True)
    assert f'action="/a/{slug}/give"' in html
    for amount in ("$10", "$25", "$50", "$100"):
        assert amount in html
    assert 'name="amount" value="25" checked' in html  # the page's default
    assert "Payments on this site are simulated: no card is charged." in html
    assert "<strong>$0</strong> raised" in html and "Our goal is $50,000." in html
    assert "people have acted" not in html and "<script" not in html


def test_the_amount_step_opens_an_attempt_behind_a_secret_address(client, slug, query):
    # The typed amount counts even with a suggested one still ticked (no script ticks
    # "Other amount" for the donor).
    response = post_gift(client, slug, amount="25", custom_amount="40",
                         cover_fee="y", tribute_kind="memory", tribute_name="Grandmother Lee",
                         frequency="monthly")
    assert response.status_code == 303
    token = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/give/{token}"
    assert attempts(query) == [(4000, 120, "usd", "monthly", "min-ji@example.org", "open")]
    [(digest, tribute)] = query("SELECT token_digest, tribute_name FROM gift_attempts")
    assert token not in digest and tribute == "Grandmother Lee"
    card_step = client.get(f"/give/{token}").get_data(as_text=True)
    assert "$40" in card_step and "$1.20" in card_step and "$41.20" in card_step
    assert "Payments on this site are simulated: no card is charged." in card_step
    assert client.get("/give/not-a-token").status_code == 404


@pytest.mark.parametrize("fields,message", [
    ({"amount": "other", "custom_amount": "0.50"}, "The smallest gift we can take here is $1."),
    ({"amount": "other", "custom_amount": "20000"}, "The largest gift we can take here"),
    ({"amount": "other", "custom_amount": "lots"}, "Enter the amount as a number"),
    ({"amount": "other", "custom_amount": "-5"}, "Enter the amount as a number"),
    ({"amount": "other", "custom_amount": "1e3"}, "Enter the amount as a number"),
    ({"amount": "other", "custom_amount": "25.555"}, "at most two digits after the point"),
    ({"amount": "other", "custom_amount": ""}, "Please choose or enter an amount."),
    ({"amount": "", "custom_amount": ""}, "Please choose or enter an amount."),
    ({"amount": "25", "custom_amount": "0.50"}, "The smallest gift we can take here"),
    ({"currency": "xyz"}, "This page takes gifts in USD only"),
    ({"currency": "eur"}, "This page takes gifts in USD only"),
    ({"frequency": "weekly"}, "Please choose how often to give"),
    ({"frequency": ""}, "Please choose how often to give"),
    ({"email": ""}, "Please give your email address"),
    ({"email": "not-an-address"}, "Please check your email address"),
    ({"first_name": ""}, "Please give your first name."),
    ({"last_name": ""}, "Please give your last name."),
    ({"first_name": "x" * 101}, "Please keep this under 100 characters."),
    ({"first_name": "Nul\x00byte"}, "Please use a single line"),
    ({"tribute_kind": "honour", "tribute_name": ""}, "Please give the name of the person"),
    ({"tribute_kind": "birthday", "tribute_name": "Kim"}, "Please choose honour or memory."),
    ({"tribute_kind": "honour", "tribute_name": "Kim", "tribute_notify_email": "nope"},
     "Please check your email address"),
])
def test_bad_input_shows_the_form_again_and_writes_nothing(client, slug, query, fields,
                                                           message):
    response = post_gift(client, slug, **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert f'action="/a/{slug}/give"' in html  # the form again, with what was typed
    assert attempts(query) == []


def test_missing_fields_altogether_are_a_400_not_a_500(client, slug, query):
    from tests.helpers import csrf_token

    response = client.post(f"/a/{slug}/give", data={"csrf_token": csrf_token(client, slug)})
    assert response.status_code == 400
    assert "Please give your email address" in response.get_data(as_text=True)
    assert client.post(f"/a/{slug}/give", data={}).status_code == 400  # no token at all
    assert attempts(query) == []


def test_an_amount_below_the_minimum_is_counted_as_a_block(client, slug, query):
    post_gift(client, slug, amount="other", custom_amount="0.10")
    assert blocks(query) == {"amount": 1}


def test_the_honeypot_is_answered_like_success_and_counted(client, slug, query):
    response = post_gift(client, slug, website="https://spam.example")
    assert response.status_code == 303 and "/give/" not in response.headers["Location"]
    assert attempts(query) == []
    assert blocks(query) == {"honeypot": 1}


def test_the_per_address_limit_refuses_and_counts(app, client, slug, query, monkeypatch):
    monkeypatch.setitem(app.config, "GIFT_RATE_LIMIT", "2/minute")
    for n in range(2):
        assert post_gift(client, slug, email=f"donor{n}@example.org").status_code == 303
    refused = post_gift(client, slug, email="donor9@example.org")
    assert refused.status_code == 429
    assert len(attempts(query)) == 2
    assert blocks(query) == {"rate": 1}


def test_the_per_email_limit_refuses_and_counts(app, client, slug, query, monkeypatch):
    monkeypatch.setitem(app.config, "GIFT_ATTEMPTS_PER_EMAIL_HOUR", 2)
    for _ in range(2):
        assert post_gift(client, slug).status_code == 303
    refused = post_gift(client, slug, email="MIN-JI@example.org".lower())
    assert refused.status_code == 429
    assert "Several gifts were started with this address" in refused.get_data(as_text=True)
    assert post_gift(client, slug, email="someone.else@example.org").status_code == 303
    assert len(attempts(query)) == 3
    assert blocks(query) == {"email_rate": 1}


def test_a_one_time_gift_starts_once_and_succeeds_when_stripe_says_so(client, slug, query,
                                                                      local_stripe):
    token, csrf = open_card_step(client, slug, cover_fee="y")
    first = start(client, token, csrf)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["kind"] == "payment"
    # A double click or a retried request: a fresh challenge, the same PaymentIntent.
    again = start(client, token, csrf)
    assert again.get_json()["client_secret"] == first.get_json()["client_secret"]
    [(pi_id, status)] = query("SELECT stripe_payment_intent_id, status FROM gift_attempts")
    assert status == "processing"
    intent = stripe_client(local_stripe).v1.payment_intents.retrieve(pi_id)
    assert (intent.amount, intent.currency) == (2575, "usd")
    assert intent.metadata.to_dict() == {"gift_attempt": str(query(
        "SELECT id FROM gift_attempts")[0][0]), "page": str(query(
            "SELECT id FROM action_pages")[0][0])}

    assert finish(client, token, csrf).status_code == 409  # not confirmed yet
    assert pay_with_card(local_stripe, first.get_json()["client_secret"],
                         "4242424242424242")["status"] == "succeeded"
    done = finish(client, token, csrf)
    assert done.get_json() == {"done": True, "redirect": f"/give/{token}/thanks"}
    assert query("SELECT status FROM gift_attempts") == [("succeeded",)]
    thanks = client.get(f"/give/{token}/thanks").get_data(as_text=True)
    assert "Thank you, Min-ji" in thanks and "$25.75" in thanks
    assert client.get(f"/give/{token}").status_code == 303  # done: to the thank-you


def test_a_replayed_challenge_is_refused_and_counted(client, slug, query):
    token, csrf = open_card_step(client, slug)
    payload = solved_challenge(client)
    assert start(client, token, csrf, payload).status_code == 200
    replay = start(client, token, csrf, payload)
    assert replay.status_code == 400
    assert "already used" in replay.get_json()["error"]
    tampered = start(client, token, csrf, "eyJjaGFsbGVuZ2UiOm51bGx9")
    assert tampered.status_code == 400
    assert start(client, token, csrf, "").status_code == 400
    assert blocks(query) == {"challenge": 3}
    assert query("SELECT count(*) FROM used_challenges") == [(1,)]


def test_the_json_calls_need_the_visitors_token(client, slug):
    token, _ = open_card_step(client, slug)
    refused = client.post(f"/give/{token}/start", json={"altcha": solved_challenge(client)},
                          headers={"X-CSRF-Token": "forged"})
    assert refused.status_code == 400


def test_failed_confirmations_are_capped_per_visitor(app, client, slug, query, local_stripe,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "GIFT_FAILED_CONFIRMATIONS_PER_HOUR", 2)
    token, csrf = open_card_step(client, slug)
    for _ in range(2):
        secret = start(client, token, csrf).get_json()["client_secret"]
        assert pay_with_card(local_stripe, secret, "4000000000000341") == {
            "error": "card_declined"}
        failed = finish(client, token, csrf)
        assert failed.status_code == 402
        assert "declined" in failed.get_json()["error"]
    capped = start(client, token, csrf)
    assert capped.status_code == 429
    # A new attempt from the same visitor is capped as well.
    other, other_csrf = open_card_step(client, slug, email="other@example.org")
    assert start(client, other, other_csrf).status_code == 429
    assert query("SELECT failed_confirmations FROM gift_attempts ORDER BY id") == [(2,), (0,)]
    assert blocks(query) == {"failures": 2}


def test_zero_decimal_currencies_keep_whole_units(app, client, create_page, query,
                                                  local_stripe):
    slug = donation_page(app, create_page, KRW)
    html = client.get(f"/a/{slug}").get_data(as_text=True)
    assert "₩5,000" in html and "₩10,000" in html
    assert post_gift(client, slug, currency="krw", amount="other",
                     custom_amount="5000.5").status_code == 400
    assert post_gift(client, slug, currency="krw", amount="other",
                     custom_amount="999").status_code == 400
    token, csrf = open_card_step(client, slug, currency="krw", amount="other",
                                 custom_amount="25,000", cover_fee="y")
    assert attempts(query) == [(25000, 750, "krw", "one_time", "min-ji@example.org", "open")]
    secret = start(client, token, csrf).get_json()["client_secret"]
    intent = stripe_client(local_stripe).v1.payment_intents.retrieve(
        secret.split("_secret_")[0])
    assert (intent.amount, intent.currency) == (25750, "krw")


def test_only_the_card_step_opens_the_policy_to_stripe(client, slug, local_stripe):
    page = client.get(f"/a/{slug}")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert local_stripe.api_base not in page.get_data(as_text=True)
    token, _ = open_card_step(client, slug)
    card_step = client.get(f"/give/{token}")
    policy = card_step.headers["Content-Security-Policy"]
    assert f"script-src 'self' {local_stripe.api_base}" in policy
    assert f"frame-src {local_stripe.api_base}" in policy
    assert f"connect-src 'self' {local_stripe.api_base}" in policy
    assert card_step.headers["Cache-Control"] == "no-store"
    html = card_step.get_data(as_text=True)
    assert f'<script src="{local_stripe.js_url}"></script>' in html
    assert "This page loads one script from another company" in html  # the footer says so
    assert "This site loads nothing from other companies" in page.get_data(as_text=True)
    thanks_policy = client.get(f"/give/{token}/thanks").headers["Content-Security-Policy"]
    assert thanks_policy == CONTENT_SECURITY_POLICY


def test_a_closed_donation_page_takes_no_gifts(app, client, create_page, query):
    slug = donation_page(app, create_page)
    from tests.helpers import csrf_token

    token = csrf_token(client, slug)
    with app.app_context():
        from campaign.extensions import db
        from campaign.pages.models import ActionPage

        db.session.query(ActionPage).filter_by(slug=slug).update({"status": "closed"})
        db.session.commit()
    app.extensions["page_caches"].clear()
    from tests.donations.giving import gift_form

    response = client.post(f"/a/{slug}/give", data={"csrf_token": token, **gift_form()})
    assert response.status_code == 410
    assert attempts(query) == []


def test_the_card_step_path_is_redacted_from_logs():
    from campaign.common.logging import redact_private_paths

    assert redact_private_paths('"GET /give/abcDEF_123/thanks HTTP/1.1"') == \
        '"GET /give/<redacted>/thanks HTTP/1.1"'


def test_a_failure_counts_once_and_even_when_the_browser_never_reports_it(
        client, slug, query, local_stripe):
    token, csrf = open_card_step(client, slug)
    secret = start(client, token, csrf).get_json()["client_secret"]
    pay_with_card(local_stripe, secret, "4000000000000341")
    assert finish(client, token, csrf).status_code == 402
    assert finish(client, token, csrf).status_code == 402  # reported twice, counted once
    assert query("SELECT failed_confirmations FROM gift_attempts") == [(1,)]
    # A second decline the browser keeps to itself: the next start finds it on Stripe.
    pay_with_card(local_stripe, secret, "4000000000000341")
    assert start(client, token, csrf).status_code == 200
    assert query("SELECT failed_confirmations FROM gift_attempts") == [(2,)]
    [(last_error,)] = query("SELECT last_error FROM gift_attempts")
    assert last_error.startswith("Your card was declined.")


def test_the_per_address_limit_covers_the_start_call(app, client, slug, query, monkeypatch):
    token, csrf = open_card_step(client, slug)
    monkeypatch.setitem(app.config, "GIFT_RATE_LIMIT", "2/minute")
    assert start(client, token, csrf).status_code == 200
    assert start(client, token, csrf).status_code == 200
    assert start(client, token, csrf).status_code == 429
    assert blocks(query) == {"rate": 1}


def test_giving_works_on_the_embedded_default(embedded_app, local_stripe):
    """SQLite, as the run command has it: the same steps, the same defences."""
    from tests.conftest import page_maker, sql_reader

    client = embedded_app.test_client()
    query = sql_reader(embedded_app)
    slug = donation_page(embedded_app, page_maker(embedded_app))
    token, csrf = open_card_step(client, slug, cover_fee="y")
    payload = solved_challenge(client)
    secret = start(client, token, csrf, payload).get_json()["client_secret"]
    assert start(client, token, csrf, payload).status_code == 400  # replayed
    assert pay_with_card(local_stripe, secret, "4242424242424242")["status"] == "succeeded"
    assert finish(client, token, csrf).get_json()["done"] is True
    assert query("SELECT amount, fee_amount, status FROM gift_attempts") == [
        (2500, 75, "succeeded")]
    assert query("SELECT reason, blocked FROM gift_block_counts") == [("challenge", 1)]


def test_a_second_database_with_the_same_attempt_ids_gets_payments_of_its_own(
        app_settings, migrated_sqlite, tmp_path):
    """Two installations on one Stripe account (staging beside production, or a database
    restored from a backup) number their gift attempts from 1 alike. Keys made of the id
    alone made Stripe answer the second database's first gift with the first's
    PaymentIntent (seen: a replayed client secret for a payment already made)."""
    import shutil

    from campaign import create_app
    from campaign.extensions import db
    from tests.conftest import _embedded_settings, own_celery_default, page_maker, sql_reader

    payments = []
    for n in range(2):
        database = tmp_path / f"install{n}.sqlite3"
        shutil.copyfile(migrated_sqlite, database)
        with own_celery_default():
            site = create_app(_embedded_settings(app_settings, database, tmp_path / f"out{n}"))
            client = site.test_client()
            token, csrf = open_card_step(client, donation_page(site, page_maker(site)))
            assert start(client, token, csrf).status_code == 200
            [(attempt_id, intent)] = sql_reader(site)(
                "SELECT id, stripe_payment_intent_id FROM gift_attempts")
            payments.append((attempt_id, intent))
            with site.app_context():
                db.engine.dispose()
    assert payments[0][0] == payments[1][0]  # the same attempt id in both databases
    assert payments[0][1] != payments[1][1]  # and yet a PaymentIntent each


def test_gunicorn_logs_no_card_step_token(app, client, slug, worker_env, tmp_path):
    """Real gunicorn with our logger class, an access log of every field that can carry
    a path (request line, path, query, Referer)."""
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import ROOT
    from tests.servers import free_port, wait_for_port

    token, _ = open_card_step(client, slug)
    port = free_port()
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    empty_config = tmp_path / "gunicorn.conf.py"
    empty_config.write_text("")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(empty_config), "-w", "1",
         "--bind", f"127.0.0.1:{port}",
         "--logger-class", "campaign.common.logging.GunicornLogger",
         "--access-logfile", str(access_log), "--error-logfile", str(error_log),
         "--access-logformat", '"%(r)s" %(U)s %(q)s %(s)s "%(f)s"', "wsgi:app"],
        cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        for path in (f"/give/{token}", f"/give/{token}/thanks"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}?step=1",
                headers={"Referer": f"http://campaign.test/give/{token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
    finally:
        server.terminate()
        server.wait(30)
    logged = access_log.read_text()
    assert '"GET /give/<redacted>?step=1 HTTP/1.1" /give/<redacted> step=1 200 ' \
           '"http://campaign.test/give/<redacted>"' in logged, logged
    assert token not in logged + error_log.read_text()
