"""Letter settings, fallback batches, target lists and the money pages are the domains' own
staff pages: the same addresses as ever, served by the domains' blueprints, listed in the
staff navigation by the domains themselves, and reaching into staff/ only through its
shell."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from flask_login import login_required

import campaign
from tests.staff.conftest import PASSWORD, page_text, page_token

PACKAGE = Path(campaign.__file__).parent
DOMAIN_PAGES = {
    "/staff/pages/<slug>/letters": "campaign.letters.staff_views",
    "/staff/batches": "campaign.letters.staff_views",
    "/staff/batches/<int:batch_id>.csv": "campaign.letters.staff_views",
    "/staff/batches/<int:batch_id>/print": "campaign.letters.staff_views",
    "/staff/batches/<int:batch_id>/delivered": "campaign.letters.staff_views",
    "/staff/target-lists": "campaign.targets.staff_views",
    "/staff/donations": "campaign.donations.staff_views",
    "/staff/donations.csv": "campaign.donations.staff_views",
    "/staff/donations/<int:donation_id>": "campaign.donations.staff_views",
    "/staff/donations/<int:donation_id>/refund": "campaign.donations.staff_views",
    "/staff/monthly-gifts": "campaign.donations.staff_views",
}
NAV = re.compile(r'<nav class="staff-nav".*?</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)">([^<]+)</a>')


def nav_links(response) -> list[tuple[str, str]]:
    return LINK.findall(NAV.search(page_text(response)).group(0))


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_domains_serve_their_staff_pages_at_the_old_addresses(app):
    owners: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in DOMAIN_PAGES:
            owners.setdefault(rule.rule, set()).add(app.view_functions[rule.endpoint].__module__)
    assert owners == {url: {module} for url, module in DOMAIN_PAGES.items()}


def test_domains_reach_into_staff_only_through_its_shell():
    """The factory registers staff's blueprints; any other module outside staff/ that
    imports from it takes the shell, and the shell imports no staff views."""
    reaching_in = {}
    for path in PACKAGE.rglob("*.py"):
        where = path.relative_to(PACKAGE)
        if where.parts[0] == "staff" or where == Path("__init__.py"):
            continue
        staff_modules = {name for name in imported_modules(path)
                         if name.startswith("campaign.staff")
                         and name not in ("campaign.staff", "campaign.staff.shell")
                         and not name.startswith("campaign.staff.shell.")}
        if staff_modules:
            reaching_in[str(where)] = staff_modules
    assert reaching_in == {}
    assert [name for name in imported_modules(PACKAGE / "staff" / "shell.py")
            if name.startswith("campaign.staff")] == []


def test_the_staff_nav_links_the_domains_pages_in_order(staff_client):
    assert nav_links(staff_client.get("/staff/")) == [
        ("/staff/", "Pages"), ("/staff/supporters/", "Supporters"),
        ("/staff/target-lists", "Target lists"), ("/staff/batches", "Fallback batches"),
        ("/staff/donations", "Donations"), ("/staff/monthly-gifts", "Monthly gifts"),
        ("/staff/activity", "Activity"), ("/staff/account", "Your account")]


def test_the_domains_staff_pages_are_never_cached(staff_client, letter_page):
    slug, _ = letter_page()
    for url in ("/staff/batches", "/staff/target-lists", f"/staff/pages/{slug}/letters",
                "/staff/donations", "/staff/donations.csv", "/staff/monthly-gifts"):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_a_new_domain_adds_a_staff_page_and_its_nav_entry_by_registering(
        app, app_settings, staff_client):
    """What donations or mailings will do: a blueprint from the shell, registered by the
    factory, and nothing in staff/ or the layout edited."""
    from campaign import create_app
    from campaign.staff.shell import staff_blueprint

    bp = staff_blueprint("receipts_staff", __name__, nav=[("Receipts", ".receipts")])
    bp.add_url_rule("/receipts", "receipts", login_required(lambda: "Receipts, by month"))
    with_receipts = create_app(app_settings)
    try:
        with_receipts.register_blueprint(bp)
        client = with_receipts.test_client()
        assert client.get("/staff/receipts").status_code == 302  # signed out: to sign-in
        signed_in = client.post("/staff/login", data={
            "csrf_token": page_token(client, "/staff/login"),
            "email": "ana.staff@example.org", "password": PASSWORD})
        assert signed_in.status_code == 303
        receipts = client.get("/staff/receipts")
        assert receipts.get_data(as_text=True) == "Receipts, by month"
        assert receipts.headers["Cache-Control"] == "no-store"
        links = nav_links(client.get("/staff/"))
        assert links[-3:] == [("/staff/receipts", "Receipts"), ("/staff/activity", "Activity"),
                              ("/staff/account", "Your account")]
    finally:
        # Creating an app made its Celery app the default one; the tests' app takes it back.
        app.extensions["celery"].set_default()
    # Entries belong to the app the blueprint was registered on.
    assert ("/staff/receipts", "Receipts") not in nav_links(staff_client.get("/staff/"))
