"""After erasure nothing personal is left anywhere: every text column of every table is
searched for the supporter's email, name, postal code and town."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import String, Text, select, text

from campaign.common.types import utcnow
from campaign.extensions import db
from campaign.letters import delivery
from campaign.letters.models import Letter
from tests.helpers import csrf_token
from tests.letters.conftest import status_path_of
from tests.staff.conftest import page_token, run_here

EMAIL = "yeonmi.quartzfield@example.org"
PERSON = {"first_name": "Yeonmi", "last_name": "Quartzfield", "email": EMAIL,
          "town": "Wonsanville", "postal_code": "KY16 9SS", "country": "GB"}
NEEDLES = [EMAIL, "yeonmi", "quartzfield", "wonsanville", "ky16 9ss"]


def text_columns() -> list[tuple[str, str]]:
    return [(table.name, column.name) for table in db.metadata.sorted_tables
            for column in table.columns if isinstance(column.type, (String, Text))]


def personal_data_found(app) -> list[tuple[str, str, str]]:
    """(table, column, needle) wherever a needle is found, case-insensitively."""
    found = []
    with app.app_context():
        columns = text_columns()
        assert ("letter_events", "detail") in columns and ("actions", "thank_you_error") in columns
        for table, column in columns:
            for needle in NEEDLES:
                hits = db.session.execute(text(
                    f'SELECT count(*) FROM "{table}" WHERE strpos(lower("{column}"), :n) > 0'),
                    {"n": needle}).scalar()
                if hits:
                    found.append((table, column, needle))
    return found


def test_erasure_leaves_the_email_and_name_in_no_column_of_any_table(
        app, client, staff_client, create_page, letter_page, smtp_sink, query, monkeypatch):
    petition = create_page(slug="petition-page")
    letters, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org"),
                                      ("Consulate", "Consul-General", None)])
    # A signature with where they came from (per person on), and letters to two offices.
    monkeypatch.setitem(app.config, "ATTRIBUTION_PER_PERSON", True)
    response = client.post(
        f"/a/{petition}?source=mail",
        data={"csrf_token": csrf_token(client, petition), "opt_in": "y",
              "utm_source": "news", "utm_content": EMAIL,
              "referrer": "https://forum.example", **PERSON})
    assert response.status_code == 303
    data = {"csrf_token": csrf_token(client, letters), **PERSON,
            "body": "From Wonsanville: please act."}
    assert client.post(f"/a/{letters}/letter/preview", data=data).status_code == 200
    sent = client.post(f"/a/{letters}/letter/send", data=data)
    assert sent.status_code == 303
    [(letters_action_id,)] = query("SELECT max(id) FROM actions")
    status_path = status_path_of(app, letters_action_id)

    # Mail servers that quote the supporter's address: the petition's thank-you refused
    # for good, the receipt deferred, the embassy's letter deferred.
    smtp_sink.reply_next(f"550 5.1.1 <{EMAIL}>: Recipient address rejected",
                         f"451 4.2.0 <{EMAIL}>: mailbox busy, try later",
                         f"451 4.3.0 reply-to {EMAIL} greylisted")
    run_here(app, "supporters.send_thank_yous")
    run_here(app, "letters.deliver")
    assert query("SELECT thank_you_status FROM actions ORDER BY id") == [("failed",),
                                                                           ("pending",)]
    # A failure reason recorded by another path, quoting the supporter by name.
    with app.app_context():
        letter = db.session.scalars(select(Letter).where(Letter.target_id.in_(
            select(Letter.target_id).where(Letter.channel == "email"))).limit(1)).one()
        delivery.release_for_retry(letter.id, f"refused: Yeonmi Quartzfield <{EMAIL}>",
                                   utcnow() + timedelta(hours=1))
        db.session.commit()
    assert personal_data_found(app)  # the scan finds what is there

    [(supporter_id,)] = query("SELECT id FROM supporters WHERE email = :e", e=EMAIL)
    url = f"/staff/supporters/{supporter_id}"
    erased = staff_client.post(f"{url}/erase", data={
        "csrf_token": page_token(staff_client, url), "confirm_email": EMAIL})
    assert erased.status_code == 303

    assert personal_data_found(app) == []
    assert staff_client.get(status_path).status_code == 404
    # The history keeps what happened, not what was said about it.
    assert query("SELECT count(*) FROM letter_events") != [(0,)]
    assert query("SELECT count(*) FROM actions") == [(2,)]
