"""A staff password never holds control characters: not from the account form, not from
the operator's commands (a password of 14 NUL bytes was once set)."""

from __future__ import annotations

import pytest

from campaign.common.input import PASSWORD_MESSAGE
from tests.staff.conftest import PASSWORD, page_text
from tests.staff.test_accounts import change_password, password_hash

BAD_PASSWORDS = ["\x00" * 14, "purple otter\x00lantern", "purple otter\tlantern",
                 "purple otter lantern\n", "purple\x1botter lantern", "purple otter\x7flantern"]


@pytest.mark.parametrize("new", BAD_PASSWORDS)
def test_the_account_form_refuses_control_characters(staff_client, query, new):
    before = password_hash(query)
    response = change_password(staff_client, new=new)
    assert response.status_code == 400
    assert PASSWORD_MESSAGE in page_text(response)
    assert password_hash(query) == before
    assert staff_client.get("/staff/").status_code == 200


@pytest.mark.parametrize("new", [p for p in BAD_PASSWORDS if "\n" not in p])
def test_the_operator_cannot_set_a_password_with_control_characters(app, staff_client, query,
                                                                    monkeypatch, new):
    before = password_hash(query)
    # Typed at the prompt: the environment cannot carry a NUL.
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    result = app.test_cli_runner().invoke(args=["staff", "set-password", "ana.staff@example.org"],
                                          input=f"{new}\n{new}\n")
    assert result.exit_code == 1
    assert "may not contain control characters" in result.output
    assert password_hash(query) == before


def test_a_new_account_cannot_have_a_password_with_control_characters(app, query, monkeypatch):
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    nuls = "\x00" * 14
    result = app.test_cli_runner().invoke(args=["create-staff", "new@example.org",
                                                "--name", "New Person"],
                                          input=f"{nuls}\n{nuls}\n")
    assert result.exit_code == 1
    assert "may not contain control characters" in result.output
    assert query("SELECT count(*) FROM staff_users") == [(0,)]


def test_spaces_and_any_script_are_fine_in_a_password(app, staff_client):
    from campaign.auth.services import authenticate

    new = " 비밀번호 correct horse  battery "
    assert change_password(staff_client, new=new).status_code == 303
    with app.app_context():
        assert authenticate("ana.staff@example.org", PASSWORD) is None
        assert authenticate("ana.staff@example.org", new) is not None
