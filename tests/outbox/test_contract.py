"""The outbox contract (campaign/outbox.py), run over every registered drain.

Each drain is claimed once under two concurrent claimers, loses nothing when a real worker
is SIGKILLed between claim and record (duplicates <= deliveries in flight <= processes), is
swept after its claim expiry, retries a transient failure and delivers once, and sends a
permanent failure down its own failure path. A drain is tested through a small adapter
(tests/outbox/adapters.py: how to make N due rows, what a delivery's keys are, the rows'
states, how a delivery fails); a drain registered without one fails the suite.

A delivery is what the drain exists to do: an email the mail server took, for a mail
drain; for a drain that applies Stripe's events, the ledger's effect of one event. Each
adapter says how its deliveries are read and how one fails for a while or for good.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from campaign import create_app, outbox, register_drains
from campaign.extensions import db
from tests.conftest import WorkerProcess
from tests.helpers import claim_while_another_holds_its_claim
from tests.outbox.adapters import ADAPTERS, BEAT_DRIVEN, Fixtures

CONCURRENCY = 4
CRASH_CLAIM_EXPIRES = 5
SHORT_CLAIM_EXPIRES = 2

register_drains()


@pytest.fixture(params=sorted(outbox.registry.drains))
def drain(request):
    name = request.param
    assert name in ADAPTERS, f"{name} is registered without a contract adapter: add one"
    return name, outbox.registry.drains[name], ADAPTERS[name]


@pytest.fixture
def fixtures(letter_page, write_letters, create_page, query) -> Fixtures:
    return Fixtures(letter_page, write_letters, create_page, query)


def run_here(flask_app, name: str) -> object:
    with flask_app.app_context():
        return flask_app.extensions["celery"].tasks[name].apply().result


def claim_expiries(seconds: float) -> dict[str, float]:
    return {drain.claim_expiry_setting: seconds for drain in outbox.registry.drains.values()}


@pytest.fixture(scope="module")
def short_claims_app(app_settings):
    """The tests' app, on its queue, with every claim expiring in SHORT_CLAIM_EXPIRES."""
    return create_app({**app_settings, **claim_expiries(SHORT_CLAIM_EXPIRES)})


def test_every_drain_is_registered_with_its_sweep_and_claim_expiry(app):
    assert set(outbox.registry.drains) >= set(ADAPTERS)
    tasks = app.extensions["celery"].tasks
    for drain in outbox.registry.drains.values():
        assert drain.name in tasks and drain.sweep in tasks
        assert app.config[drain.claim_expiry_setting] > 0


def test_two_claimers_at_once_never_share_a_row(drain, app, fixtures):
    _, _, adapter = drain
    adapter.make_due(fixtures, app, 5)
    first, second = claim_while_another_holds_its_claim(app, adapter.claim, 3, 10)
    assert first and second, (first, second)
    assert not set(first) & set(second)
    assert len(first) + len(second) == 5


def test_a_claim_whose_worker_died_is_swept_after_its_expiry(drain, short_claims_app, fixtures,
                                                             smtp_sink, query):
    name, registered, adapter = drain
    adapter.make_due(fixtures, short_claims_app, 3)
    with short_claims_app.app_context():  # a worker claims, commits, and dies
        assert len(adapter.claim(10)) == 3
        db.session.commit()
    run_here(short_claims_app, registered.sweep)
    assert run_here(short_claims_app, name) == 0  # the claims are live: nobody delivers
    assert adapter.keys(query, adapter.claimed_state) == adapter.keys(query)

    time.sleep(SHORT_CLAIM_EXPIRES + 0.5)
    run_here(short_claims_app, registered.sweep)
    run_here(short_claims_app, name)
    delivered = Counter(key for keys in adapter.deliveries(smtp_sink, query) for key in keys)
    assert set(delivered) == adapter.keys(query) and set(delivered.values()) == {1}
    assert set(adapter.states(query)) == {adapter.done_state}


def test_a_transient_failure_is_retried_and_delivered_once(drain, app, app_settings, fixtures,
                                                           smtp_sink, query):
    name, _, adapter = drain
    adapter.make_due(fixtures, app, 1)
    failing = adapter.fail_next(app, app_settings, smtp_sink, permanent=False)
    assert run_here(failing, name) == 0
    assert adapter.deliveries(smtp_sink, query, settle=False) == []
    assert adapter.states(query) == [adapter.waiting_state]

    adapter.end_backoff(app)  # as if its backoff were over
    run_here(app, name)  # (or a worker of the session, on the retry's countdown, first)
    [keys] = adapter.deliveries(smtp_sink, query, wait_for=1)
    assert keys == sorted(adapter.keys(query))
    assert adapter.states(query) == [adapter.done_state]


def test_a_permanent_failure_takes_the_drain_s_failure_path(drain, app, app_settings, fixtures,
                                                            smtp_sink, query):
    name, _, adapter = drain
    adapter.make_due(fixtures, app, 1)
    failing = adapter.fail_next(app, app_settings, smtp_sink, permanent=True)
    assert run_here(failing, name) == 0
    assert adapter.states(query) == [adapter.failed_state]
    adapter.check_failure(query)
    assert run_here(app, name) == 0  # and is not tried again
    assert adapter.deliveries(smtp_sink, query) == []


@pytest.mark.worker
def test_a_killed_worker_loses_nothing_and_duplicates_at_most_what_was_in_flight(
        drain, app_settings, worker_env, fixtures, smtp_sink, query, tmp_path):
    """SIGKILL to a worker of CONCURRENCY processes mid-drain; a new worker resumes with no
    sweep by hand (it sweeps as it starts, and again once the dead one's claims expired)."""
    name, _, adapter = drain
    queue = f"{app_settings['CELERY_QUEUE']}-kill-{name}"
    timings = claim_expiries(CRASH_CLAIM_EXPIRES)
    crash_app = create_app({**app_settings, **timings, "CELERY_QUEUE": queue})
    env = {**worker_env, "CELERY_QUEUE": queue, **{k: str(v) for k, v in timings.items()}}
    adapter.make_due(fixtures, crash_app, 80 if name in BEAT_DRIVEN else adapter.crash_rows)
    expected = adapter.keys(query)
    adapter.slow_down(smtp_sink)  # keep deliveries in flight when the worker dies

    def ask_for_runs() -> None:
        with crash_app.app_context():
            for _ in range(CONCURRENCY):  # every process busy
                outbox.enqueue(name)

    worker = WorkerProcess(env, tmp_path / "killed-worker.log", concurrency=CONCURRENCY)
    worker.start()
    ask_for_runs()
    adapter.deliveries(smtp_sink, query, wait_for=20, settle=False, timeout=60)
    worker.kill()
    before = adapter.deliveries(smtp_sink, query)
    claimed = adapter.keys(query, adapter.claimed_state)
    # In flight: delivered by the killed worker (the mail server took it), not recorded.
    in_flight = sum(1 for keys in before if claimed & set(keys))
    delivered_before = {key for keys in before for key in keys}
    assert delivered_before < expected, "the kill came too late to test anything"

    replacement = WorkerProcess(env, tmp_path / "replacement-worker.log",
                                concurrency=CONCURRENCY)
    replacement.start()
    try:
        deadline = time.monotonic() + 90
        next_beat = time.monotonic()
        # Until the rows say every message went: then what the mail server holds is final.
        while adapter.keys(query, adapter.done_state) != expected:
            assert time.monotonic() < deadline, (len(delivered_before), len(expected))
            if name in BEAT_DRIVEN and time.monotonic() >= next_beat:
                ask_for_runs()  # what beat does on the digests' cadence
                next_beat = time.monotonic() + 2
            time.sleep(0.5)
        received = adapter.deliveries(smtp_sink, query)
    finally:
        replacement.stop()

    seen: set[str] = set()
    duplicates = 0  # deliveries that carried something an earlier one had carried
    for delivery in received:
        keys = set(delivery)
        duplicates += bool(keys & seen)
        seen |= keys
    assert seen == expected, f"{len(expected - seen)} recorded as done, never delivered"
    print(f"{name}: in flight at the kill {in_flight}, duplicates {duplicates}")
    assert duplicates <= in_flight <= CONCURRENCY
    assert not adapter.keys(query, adapter.claimed_state)
