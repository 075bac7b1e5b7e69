"""The ground floor learns of drains from the registry alone."""

from __future__ import annotations

import ast
from pathlib import Path

from campaign import create_app
from campaign.outbox import Drain, Periodic, Registry

CAMPAIGN = Path(__file__).resolve().parents[2] / "campaign"


def test_celery_s_task_modules_and_beat_schedule_come_from_the_registered_drains(
        app_settings):
    celery = create_app(app_settings).extensions["celery"]
    assert sorted(celery.conf.imports) == ["workers.donations", "workers.letters",
                                           "workers.stripe_events", "workers.supporters"]
    assert celery.conf.beat_schedule == {
        "sweep-stripe-events": {"task": "donations.sweep_events", "schedule": 60.0},
        "sweep-letters": {"task": "letters.sweep", "schedule": 60.0},
        "sweep-thank-yous": {"task": "supporters.sweep_thank_yous", "schedule": 60.0},
        "send-letter-digests": {"task": "letters.send_digests", "schedule": 900.0},
        "sweep-donor-emails": {"task": "donations.sweep_donor_emails", "schedule": 60.0},
    }


def test_a_new_drain_brings_its_task_module_sweep_and_beat_entries():
    registry = Registry()
    registry.drains["mailings.send"] = Drain(
        name="mailings.send", task_module="workers.mailings",
        claim_expiry_setting="MAILING_CLAIM_EXPIRES_SECONDS", sweep="mailings.sweep",
        sweep_beat_key="sweep-mailings")
    registry.periodic["mailing-report"] = Periodic(
        key="mailing-report", task="mailings.report", task_module="workers.mailing_reports",
        every_setting="MAILING_REPORT_SECONDS")
    config = {"MAILING_CLAIM_EXPIRES_SECONDS": 30.0, "MAILING_REPORT_SECONDS": 3600.0}
    assert registry.task_modules() == ["workers.mailings", "workers.mailing_reports"]
    assert registry.sweeps() == ["mailings.sweep"]
    assert registry.longest_claim_expiry(config) == 30.0
    assert registry.beat_schedule(config) == {
        "sweep-mailings": {"task": "mailings.sweep", "schedule": 60.0},
        "mailing-report": {"task": "mailings.report", "schedule": 3600.0}}


def test_nothing_under_campaign_imports_workers():
    importers = []
    for path in CAMPAIGN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name == "workers" or name.startswith("workers.") for name in names):
                importers.append(str(path.relative_to(CAMPAIGN)))
    assert importers == []
