"""The staff activity record: each change is recorded once, in its own transaction, with
who made it; a refused change records nothing."""

from __future__ import annotations

import pytest

from tests.staff.conftest import PASSWORD, page_text, page_token
from tests.staff.test_page_editor import page_form, post

# What staff changed; sign-ins (every staff_client makes one) are tested on their own.
EVENTS = ("SELECT actor, kind, subject, detail FROM staff_events "
          "WHERE kind <> 'account.signed_in' ORDER BY id")


def test_page_changes_are_recorded_with_who_made_them(staff_client, query):
    assert post(staff_client, "/staff/pages/new", page_form()).status_code == 303
    assert post(staff_client, "/staff/pages/new", page_form(slug="Bad Slug")).status_code == 400
    [(campaign_id,)] = query("SELECT id FROM campaigns")
    assert post(staff_client, "/staff/pages/stop-the-trade/edit", page_form(
        status="live", new_campaign="", campaign_id=str(campaign_id))).status_code == 303
    assert query(EVENTS) == [
        ("ana.staff@example.org", "page.created", "stop-the-trade", "petition, draft"),
        ("ana.staff@example.org", "page.saved", "stop-the-trade", "petition, live")]
    html = page_text(staff_client.get("/staff/activity"))
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.index("page.saved") < rows.index("page.created")  # newest first


def test_an_erasure_is_recorded_by_supporter_number_only(staff_client, create_page,
                                                         create_signature, query):
    create_page(slug="erase-me")
    create_signature("erase-me", email="seo-yeon.secret@example.org", first_name="Seo-yeon")
    [(supporter_id,)] = query("SELECT id FROM supporters")
    url = f"/staff/supporters/{supporter_id}"
    wrong = staff_client.post(f"{url}/erase", data={"csrf_token": page_token(staff_client, url),
                                                    "confirm_email": "someone@else.org"})
    assert wrong.status_code == 400
    assert query(EVENTS) == []
    done = staff_client.post(f"{url}/erase", data={"csrf_token": page_token(staff_client, url),
                                                   "confirm_email": "seo-yeon.secret@example.org"})
    assert done.status_code == 303
    assert query(EVENTS) == [("ana.staff@example.org", "supporter.erased",
                              f"supporter {supporter_id}", "0 undelivered letters withdrawn")]
    activity = page_text(staff_client.get("/staff/activity"))
    assert "seo-yeon" not in activity.lower()


def test_a_password_change_is_recorded(staff_client, query):
    url = "/staff/account"
    response = staff_client.post(url, data={
        "csrf_token": page_token(staff_client, url), "current_password": PASSWORD,
        "new_password": "a brand new passphrase", "confirm_password": "a brand new passphrase"})
    assert response.status_code == 303
    assert query(EVENTS) == [("ana.staff@example.org", "account.password_changed",
                              "ana.staff@example.org", "")]


@pytest.mark.parametrize("args,kind", [
    (["staff", "set-password", "ana.staff@example.org"], "account.password_set"),
    (["staff", "deactivate", "ana.staff@example.org"], "account.deactivated"),
])
def test_operator_commands_are_recorded_as_the_command_line(app, create_staff, query,
                                                            monkeypatch, args, kind):
    create_staff()
    monkeypatch.setenv("STAFF_PASSWORD", "a brand new passphrase")
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert query(EVENTS) == [("command line", kind, "ana.staff@example.org", "")]
    refused = app.test_cli_runner().invoke(args=["staff", "activate", "nobody@example.org"])
    assert refused.exit_code == 1
    assert len(query(EVENTS)) == 1


def test_creating_an_account_is_recorded(app, query, monkeypatch):
    monkeypatch.setenv("STAFF_PASSWORD", PASSWORD)
    result = app.test_cli_runner().invoke(args=["create-staff", "new.staff@example.org",
                                                "--name", "New Staff"])
    assert result.exit_code == 0, result.output
    assert query(EVENTS) == [("command line", "account.created", "new.staff@example.org", "")]


def test_sign_ins_are_recorded_and_failures_are_not(client, create_staff, log_in, query):
    create_staff()
    assert log_in(password="not the password at all").status_code == 401
    assert query("SELECT count(*) FROM staff_events") == [(0,)]
    assert log_in().status_code == 303
    assert query("SELECT actor, kind, subject FROM staff_events") == [
        ("ana.staff@example.org", "account.signed_in", "ana.staff@example.org")]


def test_only_admins_read_the_activity_record(client, create_staff, log_in):
    create_staff(email="ed@example.org", name="Ed", is_admin=False)
    assert log_in(email="ed@example.org").status_code == 303
    assert 'href="/staff/activity"' not in client.get("/staff/").get_data(as_text=True)
    response = client.get("/staff/activity")
    assert response.status_code == 403
    assert "Only an admin may do this." in page_text(response)
