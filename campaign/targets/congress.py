"""Members of Congress and the ZIP-to-district crosswalk, imported from public data files.

The files are unitedstates/congress-legislators' legislators-current.yaml and the
Census-derived zccd.csv (ZCTA to congressional district); data/us-congress/ ships a snapshot
of both and its README says where they come from and when to refresh them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import delete, insert, select

from campaign.extensions import db
from campaign.targets.models import CONGRESS_KINDS, Target, TargetKind, ZipDistrict

try:
    from yaml import CSafeLoader as YamlLoader
except ImportError:  # PyYAML built without libyaml: same result, about ten times slower.
    from yaml import SafeLoader as YamlLoader  # type: ignore[assignment]

ZIP_COLUMNS = ["state_fips", "state_abbr", "zcta", "cd"]
ZIP_PATTERN = re.compile(r"[0-9]{5}")
STATE_PATTERN = re.compile(r"[A-Z]{2}")
BIOGUIDE_PATTERN = re.compile(r"[A-Z][0-9]{6}")

NON_VOTING_TITLES = {"PR": "Resident Commissioner"}
NON_VOTING_STATES = {"DC", "PR", "GU", "VI", "AS", "MP"}

# The fields the importer owns; anything else on a target is left alone.
SYNCED_FIELDS = ("name", "title", "state", "district", "party", "phone", "address",
                 "contact_form_url", "website_url", "in_office_from", "in_office_to")


class CongressDataError(ValueError):
    """A data file is not in the shape we expect; nothing was imported."""


@dataclass(frozen=True)
class ImportCounts:
    added: int
    updated: int
    ended: int
    zips: int


def _noop(message: str) -> None:
    pass


def import_representatives(legislators_path: str | Path, zips_path: str | Path, *,
                           today: date,
                           progress: Callable[[str], None] = _noop) -> ImportCounts:
    """Brings members of Congress and the ZIP crosswalk in line with the two files.

    Members are upserted by (kind, bioguide id); members no longer in the file have their
    time in office ended on `today`, never deleted. The crosswalk is replaced whole.
    Both files are read and checked before anything is written. Flushes; the caller
    commits, so the whole import lands in one transaction or not at all.
    """
    progress(f"Reading {legislators_path}")
    members = read_legislators(legislators_path)
    progress(f"Reading {zips_path}")
    zip_rows = read_zip_districts(zips_path)

    progress(f"Updating {len(members)} members of Congress")
    added, updated, ended = _sync_members(members, today)
    progress(f"Replacing the ZIP crosswalk with {len(zip_rows)} rows")
    _replace_zip_districts(zip_rows)
    db.session.flush()
    return ImportCounts(added=added, updated=updated, ended=ended, zips=len(zip_rows))


def read_legislators(path: str | Path) -> list[dict]:
    """The file's members, each a dict of Target fields."""
    try:
        with open(path, "rb") as handle:
            people = yaml.load(handle, Loader=YamlLoader)
    except yaml.YAMLError as error:
        raise CongressDataError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(people, list) or not people:
        raise CongressDataError(f"{path}: expected a list of legislators")
    members, seen = [], set()
    for index, person in enumerate(people, start=1):
        try:
            member = _member_fields(person)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise CongressDataError(f"{path}: legislator #{index} is incomplete "
                                    f"({error!r})") from error
        key = (member["kind"], member["external_id"])
        if key in seen:
            raise CongressDataError(f"{path}: {key[1]} is listed twice")
        seen.add(key)
        members.append(member)
    return members


def _member_fields(person: dict) -> dict:
    bioguide = person["id"]["bioguide"]
    if not BIOGUIDE_PATTERN.fullmatch(bioguide):
        raise ValueError(f"bioguide id {bioguide!r}")
    term = person["terms"][-1]
    state = term["state"]
    if not STATE_PATTERN.fullmatch(state):
        raise ValueError(f"state {state!r}")
    if term["type"] == "sen":
        kind, district, title = TargetKind.US_SENATE.value, None, f"Senator for {state}"
    elif term["type"] == "rep":
        kind, district = TargetKind.US_HOUSE.value, int(term["district"])
        title = _house_title(state, district)
    else:
        raise ValueError(f"term type {term['type']!r}")
    fields = {
        "kind": kind,
        "external_id": bioguide,
        "name": _full_name(person["name"]),
        "title": title,
        "state": state,
        "district": district,
        "party": term.get("party") or None,
        "phone": term.get("phone") or None,
        "address": term.get("address") or None,
        "contact_form_url": term.get("contact_form") or None,
        "website_url": term.get("url") or None,
        "in_office_from": date.fromisoformat(term["start"]),
        "in_office_to": date.fromisoformat(term["end"]),
    }
    for name, value in fields.items():
        limit = getattr(Target.__table__.c[name].type, "length", None)
        if isinstance(value, str) and limit and len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
    return fields


def _house_title(state: str, district: int) -> str:
    if state in NON_VOTING_STATES:
        return f"{NON_VOTING_TITLES.get(state, 'Delegate')} for {state}"
    if district == 0:
        return f"Representative for {state} (at large)"
    return f"Representative for {state}-{district}"


def _full_name(name: dict) -> str:
    # official_full is missing for a few members sworn in recently.
    if name.get("official_full"):
        return name["official_full"]
    parts = [name["first"], name.get("middle"), name["last"]]
    full = " ".join(part for part in parts if part)
    return f"{full}, {name['suffix']}" if name.get("suffix") else full


def _sync_members(members: list[dict], today: date) -> tuple[int, int, int]:
    existing = {(target.kind, target.external_id): target for target in db.session.scalars(
        select(Target).where(Target.kind.in_(CONGRESS_KINDS)))}
    added = updated = 0
    for fields in members:
        target = existing.pop((fields["kind"], fields["external_id"]), None)
        if target is None:
            db.session.add(Target(**fields))
            added += 1
        elif _update(target, fields):
            updated += 1

    ended = 0
    for target in existing.values():
        if target.in_office_to is None or target.in_office_to > today:
            # A term that had not begun yet ends as it starts: empty, but in order.
            starts = target.in_office_from
            target.in_office_to = starts if starts is not None and starts > today else today
            ended += 1
    return added, updated, ended


def _update(target: Target, fields: dict) -> bool:
    changed = False
    for name in SYNCED_FIELDS:
        if getattr(target, name) != fields[name]:
            setattr(target, name, fields[name])
            changed = True
    return changed


def read_zip_districts(path: str | Path) -> list[dict]:
    try:
        return _read_zip_rows(path)
    except UnicodeDecodeError as error:
        raise CongressDataError(f"{path}: not UTF-8 text ({error})") from error


def _read_zip_rows(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ZIP_COLUMNS:
            raise CongressDataError(f"{path}: expected the header {','.join(ZIP_COLUMNS)}")
        rows = {}
        for row in reader:
            if not row:
                continue
            try:
                key = _zip_row(row)
            except ValueError as error:
                raise CongressDataError(f"{path}, line {reader.line_num}: {error}") from error
            rows[key] = None  # A repeated row would break the primary key; keep one.
    if not rows:
        raise CongressDataError(f"{path}: no rows")
    return [{"zcta": zcta, "state": state, "district": district}
            for zcta, state, district in rows]


def _zip_row(row: list[str]) -> tuple[str, str, int]:
    if len(row) != len(ZIP_COLUMNS):
        raise ValueError(f"expected {len(ZIP_COLUMNS)} values, found {len(row)}")
    _, state, zcta, district = row
    if not ZIP_PATTERN.fullmatch(zcta):
        raise ValueError(f"ZCTA {zcta!r} is not 5 digits")
    if not STATE_PATTERN.fullmatch(state):
        raise ValueError(f"state {state!r} is not a 2-letter code")
    if not (district.isascii() and district.isdigit()):
        raise ValueError(f"district {district!r} is not a number")
    return zcta, state, int(district)


def _replace_zip_districts(rows: list[dict]) -> None:
    # DELETE, not TRUNCATE: lookups keep reading the old rows until the import commits.
    db.session.execute(delete(ZipDistrict))
    # The table, not the mapped class: a Core executemany in multi-row INSERTs, about
    # twice as fast as the ORM's bulk insert for these 42,000 plain rows.
    db.session.execute(insert(ZipDistrict.__table__), rows)
