"""Every route in Flask's URL map, for an anonymous visitor, an editor and an admin.

Anonymous visitors are sent to the sign-in page (or refused) on every staff route but
sign-in and sign-out; editors get 403 on the admin-only routes; nothing answers 5xx.
The routes come from `app.url_map`, so a route added later is checked without anyone
remembering to add it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from tests.helpers import page_token
from tests.staff.conftest import signed_in
from tests.staff.test_batches import batch_id_of, fallback_letters

# Staff routes an anonymous visitor must be able to reach: how they stop being anonymous.
PUBLIC_STAFF_ENDPOINTS = {"auth.login", "auth.logout"}
# Routes behind admin_required. Decorators leave no mark Flask can see, so a new
# admin-only route is added here; an editor reaching one of these fails the test.
ADMIN_ONLY_ENDPOINTS = {"staff.activity", "staff_supporters.erase", "donations_staff.refund"}
# Signing out ends the role's session: it goes last.
LAST_ENDPOINTS = ("auth.logout",)
CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass(frozen=True)
class Visit:
    method: str
    url: str
    endpoint: str
    status: int
    location: str


def staff_rule(rule: Rule) -> bool:
    return rule.rule == "/staff" or rule.rule.startswith("/staff/")


def url_for_rule(rule: Rule, values: dict[str, object]) -> str:
    """The rule's URL with a plausible value for each argument: a real row's id or slug
    where the test made one, else a stand-in of the right kind."""
    arguments = {}
    for name in rule.arguments:
        if name in values:
            arguments[name] = values[name]
        elif isinstance(rule._converters[name], IntegerConverter):
            arguments[name] = 1
        else:
            arguments[name] = "x"
    return rule.build(arguments, append_unknown=False)[1]


def ordered_rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint in LAST_ENDPOINTS,
                                                            r.rule))


def visit_every_route(app: Flask, client: FlaskClient, values: dict[str, object],
                      token: Callable[[], str]) -> Iterator[Visit]:
    """Each rule with each of its methods. POSTs carry a valid CSRF token for the
    client's session, so what answers is the access check, not the CSRF check."""
    for rule in ordered_rules(app):
        url = url_for_rule(rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token()} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            yield Visit(method, url, rule.endpoint, response.status_code,
                        response.headers.get("Location", ""))
            response.close()


def anonymous_token(client: FlaskClient) -> Callable[[], str]:
    return lambda: page_token(client, "/staff/login")


def staff_token(client: FlaskClient) -> Callable[[], str]:
    return lambda: page_token(client, "/staff/account")


def let_anonymous_in(visits: list[Visit], rules: dict[str, Rule]) -> list[Visit]:
    """The visits where an anonymous visitor was let into a staff route."""
    return [v for v in visits
            if staff_rule(rules[v.endpoint]) and v.endpoint not in PUBLIC_STAFF_ENDPOINTS
            and not (v.status in (401, 403)
                     or (v.status in (302, 303) and "/staff/login" in v.location))]


@pytest.fixture(autouse=True)
def answer_errors_as_a_server_would(app):
    """The test client re-raises a view's exception; a server answers 500."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield
    app.config["PROPAGATE_EXCEPTIONS"] = None


@pytest.fixture
def values(app, letter_page, write_letters, create_signature, query) -> dict[str, object]:
    """A row behind every kind of argument: a live letter page with a fallback batch, and
    a supporter."""
    slug, _ = fallback_letters(app, letter_page, write_letters)
    static = next(p for p in Path(app.static_folder).rglob("*") if p.is_file())
    return {"slug": slug, "batch_id": batch_id_of(query), "donation_id": a_donation(app),
            "supporter_id": query("SELECT id FROM supporters ORDER BY id LIMIT 1")[0][0],
            "token": "not-a-status-token",
            "filename": static.relative_to(app.static_folder).as_posix()}


def a_donation(app: Flask) -> int:
    """A ledger row, so a donation's staff page is visited with something to show."""
    from campaign.donations.models import Donation
    from campaign.extensions import db
    from tests.donations.staff_helpers import NOON

    with app.app_context():
        donation = Donation(stripe_payment_intent_id="pi_access_matrix", frequency="one_time",
                            amount=2500, currency="usd", charged_at=NOON)
        db.session.add(donation)
        db.session.commit()
        return donation.id


def test_the_matrix_covers_every_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert ADMIN_ONLY_ENDPOINTS <= endpoints
    assert PUBLIC_STAFF_ENDPOINTS <= endpoints
    assert sum(staff_rule(rule) for rule in app.url_map.iter_rules()) >= 15


def test_anonymous_visitors_are_kept_out_of_every_staff_route(app, client, values):
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    visits = list(visit_every_route(app, client, values, anonymous_token(client)))
    assert len({v.endpoint for v in visits}) == len(rules)
    assert let_anonymous_in(visits, rules) == []
    assert [v for v in visits if v.status >= 500] == []


def test_editors_get_403_on_admin_routes_only(app, create_staff, values):
    editor = signed_in(app, create_staff, "ed.editor@example.org", is_admin=False)
    visits = list(visit_every_route(app, editor, values, staff_token(editor)))
    assert [v for v in visits if v.status >= 500] == []
    refused = {v.endpoint for v in visits if v.status == 403}
    assert refused == ADMIN_ONLY_ENDPOINTS
    # Signed in all along: no staff route sent the editor to sign in.
    assert [v for v in visits if "/staff/login" in v.location
            and v.endpoint not in PUBLIC_STAFF_ENDPOINTS] == []


def test_admins_reach_every_staff_route(app, create_staff, values):
    admin = signed_in(app, create_staff, "ada.admin@example.org", is_admin=True)
    visits = list(visit_every_route(app, admin, values, staff_token(admin)))
    assert [v for v in visits if v.status >= 500] == []
    assert [v for v in visits if v.status in (401, 403)] == []
    assert [v for v in visits if "/staff/login" in v.location
            and v.endpoint not in PUBLIC_STAFF_ENDPOINTS] == []


def test_the_matrix_catches_a_staff_route_without_login_required(app, app_settings, values):
    """The check above, on an app with one staff route that forgot login_required."""
    from campaign import create_app

    careless = create_app(app_settings)
    try:
        careless.add_url_rule("/staff/forgotten", "forgotten", lambda: "supporters' emails")
        careless.config["PROPAGATE_EXCEPTIONS"] = False
        client = careless.test_client()
        rules = {rule.endpoint: rule for rule in careless.url_map.iter_rules()}
        visits = list(visit_every_route(careless, client, values, anonymous_token(client)))
    finally:
        # Creating an app made its Celery app the default one; the tests' app takes it back.
        app.extensions["celery"].set_default()
    assert [(v.endpoint, v.status) for v in let_anonymous_in(visits, rules)] == [
        ("forgotten", 200)]
