from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from campaign.extensions import db
from campaign.letters.services import save_settings
from campaign.targets.services import TargetRow, create_target_list
from tests.helpers import csrf_token

TEMPLATE = ("Forced labour pays for {target_title}'s problem: missiles. "
            "Please enforce the sanctions.")


@pytest.fixture
def letter_page(app: Flask, create_page) -> Callable[..., tuple[str, list[int]]]:
    """A live letter page writing to a fixed list of targets on example.org."""

    def create(targets: list[tuple[str, str, str | None]] | None = None,
               **settings: object) -> tuple[str, list[int]]:
        slug = create_page(kind="letter")
        if targets is None:
            targets = [("Embassy Desk", "Ambassador", "embassy@example.org"),
                       ("UN Mission", "Permanent Representative", "mission@example.org")]
        with app.app_context():
            target_list = create_target_list(
                f"list for {slug}", [TargetRow(line=i + 2, name=name, title=title, email=email)
                                     for i, (name, title, email) in enumerate(targets)])
            settings.setdefault("subject", "Stop the forced-labour trade")
            settings.setdefault("body_template", TEMPLATE)
            settings.setdefault("target_list_id", target_list.id)
            save_settings(slug, **settings)
            target_ids = [member.target_id for member in target_list.members]
            db.session.commit()
        return slug, target_ids

    return create


def letter_fields(**fields: str) -> dict:
    data = {"first_name": "Hye-jin", "last_name": "Cho", "email": "hye-jin@example.org",
            "town": "Springfield", "postal_code": "62701", "country": "US"}
    data.update(fields)
    return data


def default_body(client: FlaskClient, slug: str) -> str:
    page = client.get(f"/a/{slug}").get_data(as_text=True)
    match = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S)
    return html.unescape(match.group(1)).strip()


@pytest.fixture
def send_letter(client: FlaskClient) -> Callable:
    """Writes as a supporter would: the page, the preview, then send."""

    def send(slug: str, body: str | None = None, **fields: str):
        token = csrf_token(client, slug)
        data = {"csrf_token": token, "body": default_body(client, slug) if body is None
                else body, **letter_fields(**fields)}
        preview = client.post(f"/a/{slug}/letter/preview", data=data)
        if preview.status_code != 200:
            return preview
        return client.post(f"/a/{slug}/letter/send", data=data)

    return send


@pytest.fixture
def congress(app: Flask) -> None:
    """Members of Congress and the ZIP crosswalk, from the snapshot shipped in data/."""
    from campaign.targets.congress import import_representatives
    from tests.targets.support import LEGISLATORS, SNAPSHOT_DAY, ZIPS

    with app.app_context():
        import_representatives(LEGISLATORS, ZIPS, today=SNAPSHOT_DAY)
        db.session.commit()


@pytest.fixture
def write_letters(app: Flask) -> Callable[..., list[int]]:
    """Records letters as a send would, without queueing them: for tests that run delivery
    themselves."""
    from campaign.letters.compose import Writer
    from campaign.letters.services import get_settings, record_letters, resolve_targets
    from campaign.pages.services import load_page_view
    from campaign.supporters.services import Signature, record_signature

    def write(slug: str, count: int = 1, body: str | None = None,
              flask_app: Flask | None = None) -> list[int]:
        with (flask_app or app).app_context():
            page = load_page_view(slug)
            settings = get_settings(page.id)
            targets = resolve_targets(settings, "", None, on=date.today()).targets
            letter_ids = []
            for n in range(count):
                email = f"writer{n}-{uuid.uuid4().hex[:6]}@example.org"
                result = record_signature(page.id, Signature(email=email, first_name=f"W{n}",
                                                             last_name="Writer"), "v1")
                letters = record_letters(
                    action_id=result.action_id, page_id=page.id, settings=settings,
                    body=body or settings.body_template,
                    writer=Writer(first_name=f"W{n}", last_name="Writer"), targets=targets)
                letter_ids += [letter.id for letter in letters]
            db.session.commit()
            return letter_ids

    return write


STATUS_LINK = re.compile(r"http://campaign\.test(/letters/[A-Za-z0-9_-]+)")


@pytest.fixture
def receipt_status_link(app: Flask, smtp_sink) -> Callable[[str], str]:
    """The status link (its path) from the receipt to `email`, sent by the real thank-you
    task in this process: the receipt is the only place the link is given (the page after
    sending is the same for everyone)."""

    def link(email: str = "hye-jin@example.org") -> str:
        with app.app_context():
            app.extensions["celery"].tasks["supporters.send_thank_yous"].apply()
        for mail in reversed(smtp_sink.wait_for(1)):
            if mail.rcpt_tos == [email] and mail.message["Subject"].startswith("Your letters:"):
                return STATUS_LINK.search(
                    mail.message.get_body(("plain",)).get_content()).group(1)
        raise AssertionError(f"no receipt to {email}")

    return link


def status_path_of(app: Flask, action_id: int) -> str:
    """The path of an action's status link, unsealed as the receipt's builder does: for
    tests whose receipt never goes out."""
    from campaign.letters.status_links import status_link_token

    with app.app_context():
        token = status_link_token(action_id, secret_key=app.config["SECRET_KEY"])
    assert token is not None
    return f"/letters/{token}"
