"""Finding a supporter's members of Congress from a ZIP code, on the real snapshot.

Expected names and bioguide ids are read from the shipped legislators-current.yaml and
zccd.csv for each ZIP code used.
"""

from __future__ import annotations

from datetime import date

import pytest

from campaign.targets.services import (
    INVALID_ZIP,
    UNKNOWN_ZIP,
    ZipLookupError,
    lookup_representatives,
)
from tests.targets.support import SNAPSHOT_DAY, lookup

SCHUMER = ("NY", "S000148", "Charles E. Schumer")
GILLIBRAND = ("NY", "G000555", "Kirsten E. Gillibrand")


def lookup_error(app, zip_code: str) -> str:
    with app.app_context(), pytest.raises(ZipLookupError) as error:
        lookup_representatives(zip_code, on=SNAPSHOT_DAY)
    return str(error.value)


def test_a_zip_in_one_district_gives_its_representative_and_both_senators(
        app, import_congress):
    import_congress()
    found = lookup(app, "60601")
    assert found["districts"] == [("IL-7", "D000096", "Danny K. Davis")]
    assert found["senators"] == [("IL", "D000563", "Richard J. Durbin"),
                                 ("IL", "D000622", "Tammy Duckworth")]
    assert found["titles"] == ["Representative for IL-7", "Senator for IL", "Senator for IL"]
    assert not found["is_ambiguous"]


def test_a_zip_in_several_districts_offers_each_representative_and_guesses_none(
        app, import_congress):
    import_congress()
    found = lookup(app, "10023")
    assert found["districts"] == [("NY-12", "N000002", "Jerrold Nadler"),
                                  ("NY-13", "E000297", "Adriano Espaillat")]
    assert found["senators"] == [SCHUMER, GILLIBRAND]
    assert found["needs_district_choice"] and found["is_ambiguous"]
    assert not found["spans_states"]
    # ZIP+4 is looked up by its first five digits.
    assert lookup(app, " 10023-2407 ") == found


def test_at_large_states_have_one_representative_for_the_whole_state(app, import_congress):
    import_congress()
    vermont = lookup(app, "05401")
    assert vermont["districts"] == [("VT (at large)", "B001318", "Becca Balint")]
    assert vermont["senators"] == [("VT", "S000033", "Bernard Sanders"),
                                   ("VT", "W000800", "Peter Welch")]
    assert vermont["titles"][0] == "Representative for VT (at large)"
    wyoming = lookup(app, "82001")
    assert wyoming["districts"] == [("WY (at large)", "H001096", "Harriet M. Hageman")]
    assert wyoming["senators"] == [("WY", "L000571", "Cynthia M. Lummis"),
                                   ("WY", "B001261", "John Barrasso")]
    assert not wyoming["is_ambiguous"]


def test_dc_and_puerto_rico_have_a_non_voting_member_and_no_senators(app, import_congress):
    import_congress()
    dc = lookup(app, "20001")
    assert dc["districts"] == [("DC (at large)", "N000147", "Eleanor Holmes Norton")]
    assert dc["senators"] == []
    assert dc["titles"] == ["Delegate for DC"]
    puerto_rico = lookup(app, "00601")
    assert puerto_rico["districts"] == [("PR (at large)", "H001103", "Pablo José Hernández")]
    assert puerto_rico["senators"] == []
    assert puerto_rico["titles"] == ["Resident Commissioner for PR"]


def test_a_zip_across_a_state_line_gives_both_states_senators_and_says_so(
        app, import_congress):
    import_congress()
    found = lookup(app, "30165")
    assert found["states"] == ("AL", "GA")
    assert found["districts"] == [("AL-3", "R000575", "Mike Rogers"),
                                  ("GA-14", "F000485", "Clay Fuller")]
    assert [(state, bioguide) for state, bioguide, _ in found["senators"]] == [
        ("AL", "B001319"), ("AL", "T000278"), ("GA", "O000174"), ("GA", "W000790")]
    assert found["spans_states"] and found["needs_district_choice"]


def test_only_members_in_office_on_the_day_are_offered(app, import_congress):
    import_congress()
    # Ohio's appointed senator served until the special election of 2026-11-03.
    before = lookup(app, "43215", on=date(2026, 11, 2))
    after = lookup(app, "43215", on=date(2026, 11, 3))
    assert sorted(s[1] for s in before["senators"]) == ["H001104", "M001242"]
    assert after["senators"] == [("OH", "M001242", "Bernie Moreno")]
    # GA-14 was vacant until its special-election winner was sworn in on 2026-04-14.
    assert lookup(app, "30165", on=date(2026, 4, 13))["districts"] == [
        ("AL-3", "R000575", "Mike Rogers"), ("GA-14", None, None)]
    # A vacant seat is still offered, so the supporter can see whose seat it is.
    assert lookup(app, "78840")["districts"] == [("TX-23", None, None)]
    # The 119th Congress's House terms end on 2027-01-03; the snapshot knows no successors.
    assert lookup(app, "60601", on=date(2027, 1, 3))["districts"] == [("IL-7", None, None)]


def test_an_unknown_zip_is_a_clear_error(app, import_congress):
    import_congress()
    assert lookup_error(app, "00000") == UNKNOWN_ZIP
    assert lookup_error(app, "99999") == UNKNOWN_ZIP
    assert UNKNOWN_ZIP.startswith("We couldn't find that ZIP code.")


@pytest.mark.parametrize("zip_code", ["", "1234", "123456", "abcde", "12345-67", "12345 6789",
                                      "１２３４５", "10023-\n1234", "10023\n-1234"])
def test_a_malformed_zip_asks_for_five_digits(app, zip_code):
    assert lookup_error(app, zip_code) == INVALID_ZIP == "Please enter a 5-digit ZIP code."
