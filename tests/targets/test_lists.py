"""Custom target lists uploaded as CSV: row-level errors, and only good rows created."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.targets.services import (
    CSV_HEADER_HELP,
    MAX_LIST_ROWS,
    RowError,
    TargetRow,
    create_target_list,
    parse_target_csv,
)

HEADER = "name,title,email,state,district\n"

BROKEN = (
    HEADER +                                                          # line 1
    "Ana Lopez,Mayor,Ana.Lopez@Example.ORG,ny,0\n"                    # 2: good
    ",Council member,someone@example.org,NY,3\n"                      # 3: no name
    "Bob Chen,,bob@@example.org,,\n"                                  # 4: bad email
    '"Carol\nSmith",Clerk,carol@example.org,NY,\n'                    # 5-6: line break
    "Dan Roe,,dan@example.org,NY,twelve\n"                            # 7: bad district
    "Eve Park,,eve@example.org,New York,-1\n"                         # 8: two problems
    "Fay Diaz,Governor\n"                                             # 9: too few values
    "Gus\tHale,,,,\n"                                                 # 10: a tab
    "\n"                                                              # 11: blank, skipped
    '"Hal Ito, Jr.",Chief of staff,,ca,12\n'                          # 12: good
)


def test_a_good_file_gives_clean_rows():
    text = "\ufeffName, Email ,District\r\n Ana Lopez ,ANA@EXAMPLE.ORG,7\r\nBo Kim,,\r\n"
    rows, errors = parse_target_csv(text)
    assert errors == []
    assert rows == [TargetRow(line=2, name="Ana Lopez", email="ANA@example.org", district=7),
                    TargetRow(line=3, name="Bo Kim")]


def test_each_broken_row_is_reported_with_its_line_and_left_out():
    rows, errors = parse_target_csv(BROKEN)
    assert [row.line for row in rows] == [2, 12]
    assert rows[0] == TargetRow(line=2, name="Ana Lopez", title="Mayor",
                                email="Ana.Lopez@example.org", state="NY", district=0)
    assert rows[1] == TargetRow(line=12, name="Hal Ito, Jr.", title="Chief of staff",
                                state="CA", district=12)
    # email_validator words the reason; ours is the part before it.
    email_error = errors.pop(1)
    assert email_error.line == 4
    assert email_error.message.startswith("The email address 'bob@@example.org' is not valid: ")
    assert [str(error) for error in errors] == [
        "Line 3: The name is missing.",
        "Line 5: The name must be a single line without line breaks or control characters.",
        "Line 7: The district 'twelve' should be a number from 0 to 9999 (0 for at large).",
        "Line 8: The state 'New York' should be a two-letter code such as NY.",
        "Line 8: The district '-1' should be a number from 0 to 9999 (0 for at large).",
        "Line 9: Expected 5 values (name, title, email, state, district), found 2.",
        "Line 10: The name must be a single line without line breaks or control characters.",
    ]


def test_a_file_without_the_header_is_refused_whole():
    rows, errors = parse_target_csv("Ana Lopez,Mayor,ana@example.org,NY,0\n")
    assert rows == []
    assert errors == [RowError(1, CSV_HEADER_HELP)]
    assert CSV_HEADER_HELP.startswith("The first line must name the columns: "
                                      "name,title,email,state,district")
    rows, errors = parse_target_csv("name,phone\nAna Lopez,555-0100\n")
    assert rows == []
    assert errors == [RowError(1, "Unknown column 'phone'. The columns are name, title, "
                                  "email, state, district.")]
    assert parse_target_csv("") == ([], [RowError(1, "The file is empty. " + CSV_HEADER_HELP)])


def test_overlong_values_and_lists_are_refused():
    rows, errors = parse_target_csv(f"name,title\n{'x' * 201},\nOk,{'t' * 201}\n")
    assert rows == []
    assert errors == [RowError(2, "The name is too long (at most 200 characters)."),
                      RowError(3, "The title is too long (at most 200 characters).")]
    rows, errors = parse_target_csv("name\n" + "Someone\n" * (MAX_LIST_ROWS + 5))
    assert len(rows) == MAX_LIST_ROWS
    assert errors == [RowError(MAX_LIST_ROWS + 2,
                               f"A list can have at most {MAX_LIST_ROWS} targets.")]


def test_a_list_is_created_from_the_good_rows_only(app, query):
    rows, errors = parse_target_csv(BROKEN)
    assert len(errors) == 8
    with app.app_context():
        target_list = create_target_list(" City officials ", rows)
        db.session.commit()
        list_id = target_list.id
    assert query("SELECT id, name FROM target_lists") == [(list_id, "City officials")]
    assert query(
        "SELECT m.position, t.kind, t.name, t.title, t.email, t.state, t.district, "
        "t.external_id, t.in_office_to FROM target_list_members m "
        "JOIN targets t ON t.id = m.target_id ORDER BY m.position") == [
        (0, "custom", "Ana Lopez", "Mayor", "Ana.Lopez@example.org", "NY", 0, None, None),
        (1, "custom", "Hal Ito, Jr.", "Chief of staff", None, "CA", 12, None, None)]
    assert query("SELECT count(*) FROM targets") == [(2,)]


def test_a_list_needs_a_name_and_a_target(app, query):
    rows, _ = parse_target_csv(HEADER + "Ana Lopez,,,,\n")
    with app.app_context():
        for name, list_rows in (("", rows), ("Two\nlines", rows), ("Empty", [])):
            with pytest.raises(ValueError):
                create_target_list(name, list_rows)
        db.session.rollback()
    assert query("SELECT count(*) FROM targets") == [(0,)]
    assert query("SELECT count(*) FROM target_lists") == [(0,)]
