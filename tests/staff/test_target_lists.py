"""Uploading a target list as CSV: good files create the list, anything wrong creates
nothing and says exactly what and where."""

from __future__ import annotations

import io

from tests.staff.conftest import page_text, page_token

URL = "/staff/target-lists"
GOOD = ("name,title,email,state,district\n"
        "Ana Lopez,Mayor,Ana.Lopez@Example.ORG,ny,0\n"
        '"Hal Ito, Jr.",Chief of staff,,ca,12\n')
BROKEN = ("name,title,email,state,district\n"      # line 1
          "Ana Lopez,Mayor,ana@example.org,NY,0\n"  # 2: good
          ",Council member,x@example.org,NY,3\n"    # 3: no name
          "Dan Roe,,dan@example.org,NY,twelve\n"    # 4: bad district
          "Fay Diaz,Governor\n")                     # 5: too few values


def upload(client, content: bytes, name: str = "City halls", filename: str = "list.csv",
           token: str | None = None):
    token = page_token(client, URL) if token is None else token
    return client.post(URL, data={"csrf_token": token, "name": name,
                                  "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def counts(query) -> tuple:
    return query("SELECT (SELECT count(*) FROM target_lists), (SELECT count(*) FROM targets)")[0]


def test_a_good_file_creates_the_list_and_its_targets(staff_client, query):
    response = upload(staff_client, ("\ufeff" + GOOD).encode())
    assert response.status_code == 303
    assert response.headers["Location"] == URL
    [(list_id, name)] = query("SELECT id, name FROM target_lists")
    assert name == "City halls"
    [(kind, subject, detail)] = query("SELECT kind, subject, detail FROM staff_events "
                                      "WHERE kind <> 'account.signed_in'")
    assert (kind, subject) == ("target_list.created", "City halls")
    assert detail.endswith(" targets")
    assert query("SELECT t.name, t.title, t.email, t.state, t.district, t.kind, m.position "
                 "FROM targets t JOIN target_list_members m ON m.target_id = t.id "
                 "ORDER BY m.position") == [
        ("Ana Lopez", "Mayor", "Ana.Lopez@example.org", "NY", 0, "custom", 0),
        ("Hal Ito, Jr.", "Chief of staff", None, "CA", 12, "custom", 1)]
    html = page_text(staff_client.get(URL))
    assert "Created the list \u201cCity halls\u201d with 2 targets." in html
    assert f"<tr><td>{list_id}</td><td>City halls</td>" in html
    assert '<td class="num">2</td>' in html


def test_every_broken_row_is_reported_by_line_and_nothing_is_created(staff_client, query):
    response = upload(staff_client, BROKEN.encode())
    assert response.status_code == 400
    html = page_text(response)
    assert "The file has 3 problems; nothing was created." in html
    table = html.split('class="staff-table row-errors"')[1].split("</table>")[0]
    assert '<td class="num">3</td><td>The name is missing.</td>' in table
    assert ('<td class="num">4</td><td>The district \'twelve\' should be a number from 0 '
            'to 9999 (0 for at large).</td>') in table
    assert ('<td class="num">5</td><td>Expected 5 values (name, title, email, state, '
            'district), found 2.</td>') in table
    assert '<td class="num">2</td>' not in table
    assert counts(query) == (0, 0)


def test_a_file_that_is_not_utf8_is_refused_clearly(staff_client, query):
    response = upload(staff_client, "name,title\nJos\u00e9 M\u00fcller,Alcalde\n".encode("latin-1"))
    assert response.status_code == 400
    assert "The file is not UTF-8 text." in page_text(response)
    assert "CSV UTF-8" in page_text(response)
    assert counts(query) == (0, 0)


def test_a_file_over_one_megabyte_is_refused(staff_client, query):
    row = "Someone With A Long Name,A very long title for a target\n"
    big = ("name,title\n" + row * (1024 * 1024 // len(row) + 1)).encode()
    assert len(big) > 1024 * 1024
    # Just over the limit (read, then measured) and far over it (refused unread).
    for content in (big, big * 2):
        response = upload(staff_client, content)
        assert response.status_code == 413
        assert "The file is larger than 1 MB." in page_text(response)
    assert counts(query) == (0, 0)


def test_a_file_just_under_the_limit_is_read(staff_client, query):
    # Bigger than the site-wide 64 KB form limit, inside the upload's own.
    rows = "".join(f"Target number {n:04d},{'Office ' * 20}\n" for n in range(1000))
    content = ("name,title\n" + rows).encode()
    assert 64 * 1024 < len(content) < 1024 * 1024
    assert upload(staff_client, content).status_code == 303
    assert counts(query) == (1, 1000)


def test_a_header_without_rows_or_a_missing_name_creates_nothing(staff_client, query):
    empty = upload(staff_client, b"name,title,email\n")
    assert empty.status_code == 400
    assert "A list needs at least one target." in page_text(empty)
    unnamed = upload(staff_client, GOOD.encode(), name="")
    assert unnamed.status_code == 400
    assert "Please give the list a name." in page_text(unnamed)
    no_file = staff_client.post(URL, data={"csrf_token": page_token(staff_client, URL),
                                           "name": "No file"},
                                content_type="multipart/form-data")
    assert no_file.status_code == 400
    assert "Please choose a CSV file." in page_text(no_file)
    assert counts(query) == (0, 0)


def test_the_upload_needs_the_csrf_token(staff_client, query):
    response = upload(staff_client, GOOD.encode(), token="")
    assert response.status_code == 400
    assert "Your form expired" in page_text(response)
    assert counts(query) == (0, 0)
