"""Page kinds plug in (campaign.pages.kinds): a domain registers its kind and pages/ takes
it up (form, go-live rule, plain signatures, settings link, thank-you), and pages/ imports
no other kind's module."""

from __future__ import annotations

import ast

import pytest
from flask import render_template_string

from campaign.config import PROJECT_ROOT
from campaign.mail.messages import build_message, mailbox
from campaign.pages.kinds import Kind, go_live_refusal, register_kind
from campaign.supporters.models import Action
from campaign.supporters.thanks import build_thank_you, receipt_kinds
from tests.helpers import csrf_token, valid_signature


def test_pages_imports_no_other_kind():
    for module in (PROJECT_ROOT / "campaign" / "pages").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("campaign.letters", "campaign.targets")), \
                    f"{module.name} imports {name}"


def _receipt(action: Action, confirm_url: str | None):
    return build_message("thank_you", to=mailbox("", action.supporter.email),
                         subject="Your gift receipt",
                         context={"supporter": action.supporter, "page": action.page,
                                  "page_url": "", "share_links": [], "confirm_url": None},
                         idempotency_key=f"receipt:{action.id}")


GIVING = Kind(name="donation", go_live_refusal=lambda page: None,
              plain_sign_refusal="Please give through the donation form.",
              settings_endpoint="staff.edit_page", settings_label="Giving settings",
              thank_you_builder=_receipt)


@pytest.fixture
def kinds_restored(app):
    """The session's app, its page kinds as they were after the test: a replaced kind
    must not leak into the tests that follow."""
    kinds = dict(app.extensions["page_kinds"])
    yield
    app.extensions["page_kinds"] = kinds


def test_a_registered_kind_is_what_pages_and_thank_yous_use(app, client, create_page, query,
                                                           kinds_restored):
    slug = create_page(kind="donation", status="live")
    with app.app_context():
        # campaign.donations' own kind: a new page has no giving settings yet.
        assert go_live_refusal(None, "donation").startswith("Set the page's giving settings")
        assert "donation" not in receipt_kinds()
        # Another registration replaces the kind.
        register_kind(app, GIVING)
        assert go_live_refusal(None, "donation") is None
        assert receipt_kinds() == {"letter", "donation"}
    with app.test_request_context():
        link = render_template_string(
            "{% set kind = page_kind(k) %}<a href=\"{{ url_for(kind.settings_endpoint, "
            "slug=s) }}\">{{ kind.settings_label }}</a>", k="donation", s=slug)
        assert link == f'<a href="/staff/pages/{slug}/edit">Giving settings</a>'

    refused = client.post(f"/a/{slug}", data={"csrf_token": csrf_token(client, slug),
                                              **valid_signature()})
    assert refused.status_code == 400
    assert "Please give through the donation form." in refused.get_data(as_text=True)
    assert query("SELECT count(*) FROM actions") == [(0,)]

    petition = create_page()
    assert client.post(f"/a/{petition}", data={"csrf_token": csrf_token(client, petition),
                                                **valid_signature()}).status_code == 303
    [(action_id,)] = query("SELECT id FROM actions")
    with app.app_context():
        from campaign.extensions import db

        action = db.session.get(Action, action_id)
        assert str(build_thank_you(action)["Subject"]).startswith("Thank you for signing")
        action.page.kind = "donation"
        assert str(build_thank_you(action)["Subject"]) == "Your gift receipt"
        db.session.rollback()
