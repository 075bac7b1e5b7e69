"""Fallback batches for staff: the list, the CSV and printable exports, and marking a
batch delivered."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re

from tests.staff.conftest import page_text, page_token, run_here


def fallback_letters(app, letter_page, write_letters, count: int = 2) -> tuple[int, list[int]]:
    """Letters to a target without an email address, delivered into its open batch."""
    slug, _ = letter_page(targets=[("Consulate", "Consul-General", None)])
    letter_ids = write_letters(slug, count=count, body="=SUM(A1) Free them, {target_title}.")
    assert run_here(app, "letters.deliver").result == 0  # none by email: all batched
    return slug, letter_ids


def batch_id_of(query) -> int:
    [(batch_id,)] = query("SELECT id FROM fallback_batches")
    return batch_id


def test_open_batches_are_listed_with_their_exports(app, staff_client, letter_page,
                                                     write_letters, query):
    fallback_letters(app, letter_page, write_letters, count=3)
    batch_id = batch_id_of(query)
    html = page_text(staff_client.get("/staff/batches"))
    row = html.split(f'<tr id="batch-{batch_id}">')[1].split("</tr>")[0]
    assert "Consulate" in row and "Consul-General" in row
    assert '<td class="num">3</td>' in row
    assert f'href="/staff/batches/{batch_id}.csv"' in row
    assert f'href="/staff/batches/{batch_id}/print"' in row
    assert f'action="/staff/batches/{batch_id}/delivered"' in row


def test_the_csv_download_holds_every_letter(app, staff_client, letter_page, write_letters,
                                             query):
    _, letter_ids = fallback_letters(app, letter_page, write_letters)
    batch_id = batch_id_of(query)
    response = staff_client.get(f"/staff/batches/{batch_id}.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="batch-{batch_id}.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["letter_id"] for row in rows] == [str(i) for i in letter_ids]
    assert {row["target_name"] for row in rows} == {"Consulate"}
    assert rows[0]["supporter_name"] == "W0 Writer"
    assert rows[0]["subject"] == "Stop the forced-labour trade"
    assert rows[0]["body"].startswith("Dear Consulate,\n\n=SUM(A1) Free them, Consul-General.")


def test_the_printable_view_has_a_page_per_letter(app, staff_client, letter_page,
                                                  write_letters, query):
    fallback_letters(app, letter_page, write_letters)
    batch_id = batch_id_of(query)
    response = staff_client.get(f"/staff/batches/{batch_id}/print")
    assert response.status_code == 200
    html = page_text(response)
    assert html.count('class="letter"') == 2
    assert "Free them, Consul-General." in html
    assert "W1 Writer" in html
    # The template's own stylesheet is allowed by its hash; nothing else inline is.
    policy = response.headers["Content-Security-Policy"]
    [style] = re.findall(r"<style>(.*?)</style>", response.get_data(as_text=True), re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy
    assert "script-src 'self';" in policy


def test_marking_a_batch_delivered_delivers_its_letters(app, staff_client, letter_page,
                                                        write_letters, query):
    _, letter_ids = fallback_letters(app, letter_page, write_letters)
    batch_id = batch_id_of(query)
    token = page_token(staff_client, "/staff/batches")
    response = staff_client.post(f"/staff/batches/{batch_id}/delivered",
                                 data={"csrf_token": token, "note": "by hand, 3 May"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/batches"
    assert query("SELECT status, channel FROM letters ORDER BY id") == \
        [("delivered", "fallback")] * 2
    assert query("SELECT status, delivered_note, delivered_at IS NOT NULL "
                 "FROM fallback_batches") == [("delivered", "by hand, 3 May", True)]
    assert query("SELECT status, detail FROM letter_events WHERE letter_id = :id "
                 "ORDER BY id DESC LIMIT 1", id=letter_ids[0]) == [("delivered",
                                                                    "by hand, 3 May")]
    html = page_text(staff_client.get("/staff/batches"))
    assert f"Batch {batch_id}: 2 letters to Consulate marked delivered." in html
    assert f'id="batch-{batch_id}"' not in html
    assert query("SELECT actor, kind, subject, detail FROM staff_events "
                 "WHERE kind = 'batch.delivered'") == [
        ("ana.staff@example.org", "batch.delivered", f"batch {batch_id}",
         "2 letters to Consulate; by hand, 3 May")]
    assert "No open batches" in html


def test_marking_delivered_needs_the_csrf_token(app, staff_client, letter_page,
                                                write_letters, query):
    fallback_letters(app, letter_page, write_letters)
    batch_id = batch_id_of(query)
    response = staff_client.post(f"/staff/batches/{batch_id}/delivered",
                                 data={"note": "by hand"})
    assert response.status_code == 400
    assert query("SELECT DISTINCT status FROM letters") == [("batched",)]
    assert query("SELECT status FROM fallback_batches") == [("open",)]


def test_a_bad_note_changes_nothing(app, staff_client, letter_page, write_letters, query):
    fallback_letters(app, letter_page, write_letters)
    batch_id = batch_id_of(query)
    token = page_token(staff_client, "/staff/batches")
    for note in ("x" * 501, "by hand\r\nand by post"):
        response = staff_client.post(f"/staff/batches/{batch_id}/delivered",
                                     data={"csrf_token": token, "note": note})
        assert response.status_code == 400
        assert (f"The note must be one line of at most 500 characters; batch {batch_id} "
                "was not marked delivered.") in page_text(response)
    assert query("SELECT status FROM fallback_batches") == [("open",)]
    assert query("SELECT DISTINCT status FROM letters") == [("batched",)]


def test_unknown_batches_are_404(staff_client):
    assert staff_client.get("/staff/batches/999999.csv").status_code == 404
    assert staff_client.get("/staff/batches/999999/print").status_code == 404
    token = page_token(staff_client, "/staff/")
    response = staff_client.post("/staff/batches/999999/delivered", data={"csrf_token": token})
    assert response.status_code == 404
    assert "Page not found" in page_text(response)


def test_no_open_batches_says_so(staff_client):
    assert "No open batches" in page_text(staff_client.get("/staff/batches"))
