"""A letter sent on the embedded default (SQLite, tasks in-process, mail to the outbox
folder): the send path, delivery and receipt that PostgreSQL's tests cover, once here."""

from __future__ import annotations

from campaign.extensions import db
from campaign.letters.services import save_settings
from campaign.targets.services import TargetRow, create_target_list
from tests.conftest import outbox_mail, page_maker, sql_reader
from tests.helpers import csrf_token
from tests.letters.conftest import TEMPLATE, default_body, letter_fields


def test_a_letter_is_delivered_and_its_receipt_written_to_the_outbox(embedded_app):
    app, query = embedded_app, sql_reader(embedded_app)
    slug = page_maker(app)(kind="letter")
    with app.app_context():
        assert db.engine.dialect.name == "sqlite"
        targets = create_target_list("Embassies", [
            TargetRow(line=2, name="Embassy Desk", title="Ambassador",
                      email="embassy@example.org"),
            TargetRow(line=3, name="UN Mission", title="Permanent Representative",
                      email="mission@example.org")])
        save_settings(slug, subject="Stop the forced-labour trade", body_template=TEMPLATE,
                      target_list_id=targets.id)
        db.session.commit()

    client = app.test_client()
    data = {"csrf_token": csrf_token(client, slug), "body": default_body(client, slug),
            **letter_fields()}
    assert client.post(f"/a/{slug}/letter/preview", data=data).status_code == 200
    response = client.post(f"/a/{slug}/letter/send", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/a/{slug}/letter/sent")

    # Delivered in the sending request, right after its commit.
    assert query("SELECT status, channel FROM letters ORDER BY id") == [
        ("sent", "email"), ("sent", "email")]
    mail = outbox_mail(app)
    letters = {message["To"]: message for message in mail
               if message["Subject"] == "Stop the forced-labour trade"}
    assert sorted(letters) == ["Embassy Desk <embassy@example.org>",
                               "UN Mission <mission@example.org>"]
    body = letters["Embassy Desk <embassy@example.org>"].get_body(("plain",)).get_content()
    assert "Please enforce the sanctions." in body
    [receipt] = [message for message in mail if message["Subject"].startswith("Your letters:")]
    assert receipt["To"] == "Hye-jin Cho <hye-jin@example.org>"
    assert query("SELECT thank_you_status FROM actions") == [("sent",)]

    # The same address again: no second letters, the answer a first send gets.
    again = client.post(f"/a/{slug}/letter/send", data={
        **data, "csrf_token": csrf_token(client, slug)})
    assert again.status_code == 303
    assert query("SELECT count(*) FROM letters") == [(2,)]
