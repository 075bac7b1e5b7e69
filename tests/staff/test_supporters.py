"""Staff find supporters, see what they did, and erase a supporter's personal data at
their request: nothing personal is left, nothing undelivered goes out, and the pages'
counts stay."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campaign.extensions import db
from campaign.staff import services
from tests.staff.conftest import page_text, page_token, run_here

SLUG = "people-page"


def supporter_id(query, email: str) -> int:
    [(found,)] = query("SELECT id FROM supporters WHERE email = :email", email=email)
    return found


def erase(client, supporter: int, confirm: str, token: str | None = None):
    url = f"/staff/supporters/{supporter}"
    token = page_token(client, url) if token is None else token
    return client.post(f"{url}/erase", data={"csrf_token": token, "confirm_email": confirm})


@pytest.fixture
def people(create_page, create_signature):
    create_page(slug=SLUG)
    create_signature(SLUG, email="min-ji.kim@example.org", first_name="Min-ji",
                     last_name="Kim", postal_code="10001", opted_in=True, source="mail",
                     utm={"source": "newsletter", "campaign": "nov"},
                     referrer="https://forum.example", attribution_per_person=True)
    create_signature(SLUG, email="joon.lee@example.org", first_name="Joon", last_name="Lee",
                     postal_code="94110")
    create_signature(SLUG, email="100%_sure@example.org", first_name="Percent",
                     last_name="Person", postal_code="02139")


@pytest.mark.parametrize("q,found", [
    ("", ["100%_sure@example.org", "joon.lee@example.org", "min-ji.kim@example.org"]),
    ("MIN-JI.kim@", ["min-ji.kim@example.org"]),
    ("joon.lee@example.org", ["joon.lee@example.org"]),
    ("kim", ["min-ji.kim@example.org"]),
    ("joon lee", ["joon.lee@example.org"]),
    ("94110", ["joon.lee@example.org"]),
    ("100%_sure@", ["100%_sure@example.org"]),
    ("per", ["100%_sure@example.org"]),
    ("%@", []),  # wildcards are text, not patterns
    ("nobody", []),
])
def test_staff_find_supporters_by_email_name_or_postal_code(staff_client, people, q, found):
    response = staff_client.get("/staff/supporters/", query_string={"q": q})
    assert response.status_code == 200
    html = page_text(response)
    shown = sorted(email for email in ("100%_sure@example.org", "joon.lee@example.org",
                                       "min-ji.kim@example.org") if f">{email}</a>" in html)
    assert shown == found


def test_results_come_a_page_at_a_time(staff_client, people, monkeypatch):
    monkeypatch.setattr(services, "SUPPORTERS_PER_PAGE", 2)
    first = page_text(staff_client.get("/staff/supporters/"))
    assert "Page 1 of 2" in first and first.count("/staff/supporters/") >= 2
    second = page_text(staff_client.get("/staff/supporters/?page=2"))
    assert "Page 2 of 2" in second
    rows = lambda html: html.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")  # noqa: E731
    assert (rows(first), rows(second)) == (2, 1)
    assert staff_client.get("/staff/supporters/?page=banana").status_code == 200


def test_a_supporter_page_shows_actions_and_consents(staff_client, people, query):
    kim = supporter_id(query, "min-ji.kim@example.org")
    html = page_text(staff_client.get(f"/staff/supporters/{kim}"))
    assert '<dd id="supporter-email">min-ji.kim@example.org</dd>' in html
    actions = html.split('id="supporter-actions"')[1].split("</table>")[0]
    assert "mail" in actions and "pending" in actions
    consents = html.split('id="supporter-consents"')[1].split("</table>")[0]
    assert "email_updates" in consents
    assert "not confirmed: not opted in" in consents  # a tick nobody confirmed by email
    assert staff_client.get("/staff/supporters/999999").status_code == 404


def test_erasure_leaves_nothing_personal_and_keeps_the_count(app, staff_client, people,
                                                             query, smtp_sink):
    kim = supporter_id(query, "min-ji.kim@example.org")
    response = erase(staff_client, kim, " Min-Ji.Kim@example.org ")
    assert response.status_code == 303, page_text(response)
    assert query("SELECT email, first_name, last_name, postal_code, town, country, "
                 "erased_at IS NOT NULL FROM supporters WHERE id = :id", id=kim) == [
        (f"erased-{kim}@erased.invalid", "", "", "", "", "", True)]
    assert query("SELECT source, utm_source, utm_campaign, referrer, thank_you_status "
                 "FROM actions WHERE supporter_id = :id", id=kim) == [
        ("", "", "", "", "failed")]
    assert query("SELECT count(*) FROM consents WHERE supporter_id = :id", id=kim) == [(0,)]
    assert query("SELECT count(*) FROM actions") == [(3,)]
    page = page_text(staff_client.get(f"/staff/supporters/{kim}"))
    assert "personal data is erased" in page and "min-ji" not in page.lower()

    run_here(app, "supporters.send_thank_yous")
    recipients = {rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos}
    assert recipients == {"joon.lee@example.org", "100%_sure@example.org"}

    # They may sign again one day, as anyone new.
    again = staff_client.post(f"/a/{SLUG}", data={
        "csrf_token": page_token(staff_client, f"/a/{SLUG}"), "first_name": "Min-ji",
        "last_name": "Kim", "email": "min-ji.kim@example.org", "postal_code": "10001",
        "country": "US"})
    assert again.status_code == 303
    assert query("SELECT count(*) FROM actions") == [(4,)]


@pytest.mark.parametrize("confirm,status,message", [
    ("joon.lee@example.org", 400, "That is not this supporter's email: nothing was erased."),
    ("", 400, "Please type the supporter's email to confirm."),
])
def test_erasure_needs_the_supporters_own_email(staff_client, people, query, confirm,
                                                 status, message):
    kim = supporter_id(query, "min-ji.kim@example.org")
    response = erase(staff_client, kim, confirm)
    assert response.status_code == status
    assert message in page_text(response)
    assert query("SELECT email, erased_at FROM supporters WHERE id = :id", id=kim) == [
        ("min-ji.kim@example.org", None)]
    assert query("SELECT count(*) FROM consents WHERE supporter_id = :id", id=kim) == [(1,)]


def test_erasure_needs_the_csrf_token_and_happens_once(staff_client, people, query):
    kim = supporter_id(query, "min-ji.kim@example.org")
    assert erase(staff_client, kim, "min-ji.kim@example.org", token="").status_code == 400
    assert query("SELECT erased_at FROM supporters WHERE id = :id", id=kim) == [(None,)]
    assert erase(staff_client, kim, "min-ji.kim@example.org").status_code == 303
    # The erased page has no form any more; a replayed post is refused.
    token = page_token(staff_client, "/staff/supporters/")
    again = staff_client.post(f"/staff/supporters/{kim}/erase",
                              data={"csrf_token": token, "confirm_email": f"erased-{kim}"})
    assert again.status_code == 409
    assert "already erased" in page_text(again)


def test_a_thank_you_being_sent_holds_erasure_back(staff_client, people, query, app):
    kim = supporter_id(query, "min-ji.kim@example.org")
    with app.app_context():
        db.session.execute(text("UPDATE actions SET thank_you_status = 'sending' "
                                "WHERE supporter_id = :id"), {"id": kim})
        db.session.commit()
    response = erase(staff_client, kim, "min-ji.kim@example.org")
    assert response.status_code == 409
    assert "being sent right now" in page_text(response)
    assert query("SELECT email FROM supporters WHERE id = :id", id=kim) == [
        ("min-ji.kim@example.org",)]


def test_undelivered_letters_are_withdrawn_and_every_letter_emptied(
        app, staff_client, letter_page, write_letters, query):
    slug, _ = letter_page(targets=[("Embassy Desk", "Ambassador", "embassy@example.org"),
                                   ("Consulate", "Consul-General", None)])
    write_letters(slug, count=1)
    run_here(app, "letters.deliver")  # the embassy's by email, the consulate's batched
    [(writer,)] = query("SELECT supporter_id FROM actions")
    assert query("SELECT status FROM letters ORDER BY id") == [("sent",), ("batched",)]
    email = query("SELECT email FROM supporters WHERE id = :id", id=writer)[0][0]
    response = erase(staff_client, writer, email)
    assert response.status_code == 303
    assert "1 undelivered letters withdrawn" in page_text(staff_client.get(
        f"/staff/supporters/{writer}"))
    assert query("SELECT status, fallback_batch_id, body FROM letters ORDER BY id") == [
        ("sent", None, "[This letter's text was erased at the supporter's request.]"),
        ("failed", None, "[This letter's text was erased at the supporter's request.]")]
    batch_csv = staff_client.get(
        f"/staff/batches/{query('SELECT id FROM fallback_batches')[0][0]}.csv")
    assert "W0" not in batch_csv.get_data(as_text=True)


def test_a_letter_being_sent_holds_erasure_back(app, staff_client, letter_page,
                                                write_letters, query):
    slug, _ = letter_page()
    write_letters(slug, count=1)
    with app.app_context():
        db.session.execute(text("UPDATE letters SET status = 'sending'"))
        db.session.commit()
    [(writer,)] = query("SELECT supporter_id FROM actions")
    email = query("SELECT email FROM supporters WHERE id = :id", id=writer)[0][0]
    response = erase(staff_client, writer, email)
    assert response.status_code == 409
    assert "A letter from this supporter is being sent right now." in page_text(response)
    assert query("SELECT count(*) FROM letters WHERE body LIKE '%erased%'") == [(0,)]
    assert query("SELECT erased_at FROM supporters WHERE id = :id", id=writer) == [(None,)]


def test_only_admins_erase(app, client, create_staff, log_in, people, query):
    create_staff(email="ed@example.org", name="Ed", is_admin=False)
    assert log_in(email="ed@example.org").status_code == 303
    kim = supporter_id(query, "min-ji.kim@example.org")
    page = page_text(client.get(f"/staff/supporters/{kim}"))
    assert "Erase their personal data" not in page
    assert "an admin of your organisation can erase" in page
    token = page_token(client, f"/staff/supporters/{kim}")
    response = client.post(f"/staff/supporters/{kim}/erase",
                           data={"csrf_token": token, "confirm_email": "min-ji.kim@example.org"})
    assert response.status_code == 403
    assert "Only an admin may do this." in page_text(response)
    assert query("SELECT email FROM supporters WHERE id = :id", id=kim) == [
        ("min-ji.kim@example.org",)]
