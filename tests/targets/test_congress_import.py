"""Importing members of Congress and the ZIP crosswalk from the shipped snapshot."""

from __future__ import annotations

from datetime import date

import yaml

from campaign.targets.congress import ImportCounts
from tests.targets.support import LEGISLATORS, ZIPS, lookup


def test_the_import_loads_every_member_and_the_whole_zip_table(import_congress, query):
    assert import_congress() == ImportCounts(added=537, updated=0, ended=0, zips=42033)
    assert query("SELECT kind, count(*) FROM targets GROUP BY kind ORDER BY kind") == [
        ("us_house", 437), ("us_senate", 100)]
    assert query("SELECT count(*), count(DISTINCT zcta) FROM zip_districts") == [
        (42033, 33774)]
    assert query("SELECT name, title, state, district, party, phone, contact_form_url, "
                 "in_office_from, in_office_to FROM targets WHERE external_id = 'C000127'") == [
        ("Maria Cantwell", "Senator for WA", "WA", None, "Democrat", "202-224-3441",
         "https://www.cantwell.senate.gov/public/index.cfm/email-maria",
         date(2025, 1, 3), date(2031, 1, 3))]
    assert query("SELECT kind, title, district FROM targets "
                 "WHERE external_id IN ('N000002', 'H001103', 'M001246') ORDER BY title") == [
        ("us_house", "Representative for NJ-11", 11),
        ("us_house", "Representative for NY-12", 12),
        ("us_house", "Resident Commissioner for PR", 0)]
    # Two recent members have no official_full name in the file.
    assert query("SELECT name FROM targets WHERE external_id IN ('M001246', 'G000607') "
                 "ORDER BY name") == [("Analilia Mejia",), ("James Gallagher",)]
    assert query("SELECT count(*) FROM targets WHERE email IS NOT NULL") == [(0,)]


def test_importing_the_same_files_again_changes_nothing(import_congress, query):
    import_congress()
    before = query("SELECT id, updated_at FROM targets ORDER BY id")
    assert import_congress() == ImportCounts(added=0, updated=0, ended=0, zips=42033)
    assert query("SELECT id, updated_at FROM targets ORDER BY id") == before
    assert query("SELECT count(*) FROM zip_districts") == [(42033,)]


def test_a_member_missing_from_a_new_file_leaves_office_but_is_kept(
        app, import_congress, query, tmp_path):
    import_congress()
    people = yaml.load(LEGISLATORS.read_bytes(), Loader=yaml.CSafeLoader)
    without_balint = [p for p in people if p["id"]["bioguide"] != "B001318"]
    sanders = next(p for p in without_balint if p["id"]["bioguide"] == "S000033")
    sanders["terms"][-1]["phone"] = "202-555-0100"
    changed = tmp_path / "legislators.yaml"
    changed.write_text(yaml.dump(without_balint, Dumper=yaml.CSafeDumper, allow_unicode=True),
                       encoding="utf-8")

    assert import_congress(changed, today=date(2026, 7, 1)) == ImportCounts(
        added=0, updated=1, ended=1, zips=42033)
    assert query("SELECT name, in_office_to FROM targets WHERE external_id = 'B001318'") == [
        ("Becca Balint", date(2026, 7, 1))]
    assert query("SELECT phone FROM targets WHERE external_id = 'S000033'") == [
        ("202-555-0100",)]
    assert lookup(app, "05401", on=date(2026, 7, 1))["districts"] == [
        ("VT (at large)", None, None)]
    assert lookup(app, "05401", on=date(2026, 6, 30))["districts"] == [
        ("VT (at large)", "B001318", "Becca Balint")]
    # Ending a term is done once, not again on every later import.
    assert import_congress(changed, today=date(2026, 8, 1)).ended == 0

    # Back in the file (a correction upstream): her term is restored, not duplicated.
    assert import_congress(today=date(2026, 8, 2)) == ImportCounts(
        added=0, updated=2, ended=0, zips=42033)
    assert query("SELECT count(*), max(in_office_to) FROM targets "
                 "WHERE external_id = 'B001318'") == [(1, date(2027, 1, 3))]


def test_the_cli_command_imports_and_reports(app, query):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-representatives", "--legislators", str(LEGISLATORS),
                                 "--zips", str(ZIPS)])
    assert result.exit_code == 0, result.output
    assert f"Reading {ZIPS}" in result.output
    assert "Members of Congress: 537 added, 0 updated, 0 ended; 42033 ZIP-district rows " \
           "loaded" in result.output
    assert query("SELECT count(*) FROM targets") == [(537,)]
    assert query("SELECT count(*) FROM zip_districts") == [(42033,)]


def test_the_cli_command_imports_nothing_from_a_broken_file(app, query, tmp_path):
    broken = tmp_path / "zccd.csv"
    broken.write_text("state_fips,state_abbr,zcta,cd\n01,AL,30165,3\n01,AL,3516,6\n")
    result = app.test_cli_runner().invoke(args=[
        "import-representatives", "--legislators", str(LEGISLATORS), "--zips", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}, line 3: ZCTA '3516' is not 5 digits" in result.output
    assert query("SELECT count(*) FROM targets") == [(0,)]
    assert query("SELECT count(*) FROM zip_districts") == [(0,)]


def test_the_cli_command_requires_both_files(app):
    result = app.test_cli_runner().invoke(args=["import-representatives", "--legislators",
                                                str(LEGISLATORS)])
    assert result.exit_code == 2
    assert "Missing option '--zips'" in result.output
