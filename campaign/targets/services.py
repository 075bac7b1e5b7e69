"""Finding a supporter's members of Congress by ZIP code, and custom target lists."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, or_, select

from campaign.common.text import UnmailableAddress, has_control_characters, mailable_email
from campaign.extensions import db
from campaign.targets.models import Target, TargetKind, TargetList, TargetListMember, ZipDistrict

ZIP_INPUT = re.compile(r"([0-9]{5})(?:-[0-9]{4})?")
INVALID_ZIP = "Please enter a 5-digit ZIP code."
UNKNOWN_ZIP = ("We couldn't find that ZIP code. Please check it, or use the ZIP code of "
               "your home address: ZIP codes used only for PO boxes or a single business "
               "have no district.")


class ZipLookupError(ValueError):
    """The ZIP code can't be looked up; the message is fit to show the supporter."""


def in_office_on(on: date) -> ColumnElement[bool]:
    """SQL for `Target.is_current(on)`."""
    return (or_(Target.in_office_from.is_(None), Target.in_office_from <= on)
            & or_(Target.in_office_to.is_(None), Target.in_office_to > on))


@dataclass(frozen=True)
class District:
    state: str
    number: int
    # None while the seat is vacant (or our copy of the data is out of date).
    representative: Target | None

    @property
    def label(self) -> str:
        return f"{self.state} (at large)" if self.number == 0 else f"{self.state}-{self.number}"


@dataclass(frozen=True)
class LookupResult:
    zip_code: str
    states: tuple[str, ...]
    districts: tuple[District, ...]
    # By state, then name; none for DC and the territories.
    senators: tuple[Target, ...]

    @property
    def representatives(self) -> tuple[Target, ...]:
        return tuple(d.representative for d in self.districts if d.representative is not None)

    @property
    def needs_district_choice(self) -> bool:
        """The ZIP code touches several districts: the supporter picks theirs, we never guess."""
        return len(self.districts) > 1

    @property
    def spans_states(self) -> bool:
        """The ZIP code crosses a state line, so even the senators depend on the address."""
        return len(self.states) > 1

    @property
    def is_ambiguous(self) -> bool:
        return self.needs_district_choice or self.spans_states


def normalise_zip(zip_code: str) -> str:
    """The 5-digit ZIP code in `zip_code` (ZIP+4 allowed); ZipLookupError otherwise."""
    match = ZIP_INPUT.fullmatch((zip_code or "").strip())
    if match is None:
        raise ZipLookupError(INVALID_ZIP)
    return match.group(1)


def lookup_representatives(zip_code: str, *, on: date) -> LookupResult:
    """The House members and senators in office on `on` for a ZIP code's districts.

    Raises ZipLookupError for a malformed or unknown ZIP code. The ZIP code is treated as
    a Census ZCTA, which is close to but not the same as a USPS ZIP code.
    """
    zcta = normalise_zip(zip_code)
    seats = db.session.execute(
        select(ZipDistrict.state, ZipDistrict.district)
        .where(ZipDistrict.zcta == zcta)
        .order_by(ZipDistrict.state, ZipDistrict.district)).all()
    if not seats:
        raise ZipLookupError(UNKNOWN_ZIP)
    states = tuple(sorted({state for state, _ in seats}))

    members: dict[tuple[str, int], Target] = {}
    for target in db.session.scalars(
            select(Target)
            .where(Target.kind == TargetKind.US_HOUSE.value, Target.state.in_(states),
                   in_office_on(on))
            # Should two overlap, the later term is the one that holds the seat.
            .order_by(Target.in_office_from.nulls_first())):
        members[(target.state, target.district)] = target
    districts = tuple(District(state, number, members.get((state, number)))
                      for state, number in seats)

    senators = tuple(db.session.scalars(
        select(Target)
        .where(Target.kind == TargetKind.US_SENATE.value, Target.state.in_(states),
               in_office_on(on))
        .order_by(Target.state, Target.name)))
    return LookupResult(zip_code=zcta, states=states, districts=districts, senators=senators)


CSV_COLUMNS = ("name", "title", "email", "state", "district")
CSV_HEADER_HELP = ("The first line must name the columns: name,title,email,state,district "
                   "(only name is required).")
MAX_LENGTHS = {"name": 200, "title": 200, "email": 254}
MAX_LIST_ROWS = 1000
STATE_INPUT = re.compile(r"[A-Za-z]{2}")
DISTRICT_INPUT = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class TargetRow:
    line: int
    name: str
    title: str = ""
    email: str | None = None
    state: str | None = None
    district: int | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


def parse_target_csv(text: str) -> tuple[list[TargetRow], list[RowError]]:
    """Reads an uploaded target list; returns the good rows and an error per problem.

    Line numbers are those a spreadsheet shows, counting the header as line 1. A row
    with any error is left out of the good rows.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    rows: list[TargetRow] = []
    errors: list[RowError] = []
    header: list[str] | None = None
    data_rows = 0
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # The reader can't resynchronise after this; stop rather than misnumber lines.
            errors.append(RowError(line, f"This line can't be read as CSV ({error})."))
            break
        if not any(value.strip() for value in record):
            continue
        if header is None:
            header, header_error = _read_header(record)
            if header_error:
                errors.append(RowError(line, header_error))
                break
            continue
        data_rows += 1
        if data_rows > MAX_LIST_ROWS:
            errors.append(RowError(line, f"A list can have at most {MAX_LIST_ROWS} targets."))
            break
        row, row_errors = _read_row(line, header, record)
        errors.extend(RowError(line, message) for message in row_errors)
        if row is not None:
            rows.append(row)
    if header is None and not errors:
        errors.append(RowError(1, "The file is empty. " + CSV_HEADER_HELP))
    return rows, errors


def _read_header(record: list[str]) -> tuple[list[str], str | None]:
    columns = [value.strip().lower() for value in record]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if "name" not in columns:
        return columns, CSV_HEADER_HELP
    if unknown:
        return columns, (f"Unknown column {unknown[0][:40]!r}. "
                         f"The columns are {', '.join(CSV_COLUMNS)}.")
    if len(set(columns)) != len(columns):
        return columns, "Each column may appear only once in the header."
    return columns, None


def _read_row(line: int, header: list[str], record: list[str]
              ) -> tuple[TargetRow | None, list[str]]:
    if len(record) != len(header):
        return None, [f"Expected {len(header)} values ({', '.join(header)}), "
                      f"found {len(record)}."]
    fields: dict[str, object] = {}
    problems: list[str] = []
    for column, raw in zip(header, record):
        value = raw.strip()
        if has_control_characters(raw):
            problems.append(f"The {column} must be a single line without line breaks "
                            "or control characters.")
        elif len(value) > MAX_LENGTHS.get(column, len(value)):
            problems.append(f"The {column} is too long (at most {MAX_LENGTHS[column]} "
                            "characters).")
        else:
            problem = _read_value(column, value, fields)
            if problem:
                problems.append(problem)
    if not problems and not fields.get("name"):
        problems.append("The name is missing.")
    if problems:
        return None, problems
    return TargetRow(line=line, **fields), []


def _read_value(column: str, value: str, fields: dict[str, object]) -> str | None:
    if column in ("name", "title"):
        fields[column] = value
    elif not value:
        fields[column] = None
    elif column == "email":
        try:
            fields["email"] = mailable_email(value)
        except UnmailableAddress as error:
            return f"The email address {_shown(value)} is not valid: {error}"
    elif column == "state":
        if not STATE_INPUT.fullmatch(value):
            return f"The state {_shown(value)} should be a two-letter code such as NY."
        fields["state"] = value.upper()
    elif column == "district":
        if not DISTRICT_INPUT.fullmatch(value):
            return (f"The district {_shown(value)} should be a number from 0 to 9999 "
                    "(0 for at large).")
        fields["district"] = int(value)
    return None


def _shown(value: str) -> str:
    """A value quoted back in an error message, cut short."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def create_target_list(name: str, rows: Iterable[TargetRow]) -> TargetList:
    """Creates a custom target for each row and a list holding them in order.

    Flushes; the caller commits. Raises ValueError for an unusable name or no rows.
    """
    name = (name or "").strip()
    if not name or len(name) > 200 or has_control_characters(name):
        raise ValueError("Please give the list a name of one line, up to 200 characters.")
    rows = list(rows)
    if not rows:
        raise ValueError("A list needs at least one target.")
    target_list = TargetList(name=name)
    for position, row in enumerate(rows):
        target = Target(kind=TargetKind.CUSTOM.value, name=row.name, title=row.title,
                        email=row.email, state=row.state, district=row.district)
        target_list.members.append(TargetListMember(target=target, position=position))
    db.session.add(target_list)
    db.session.flush()
    return target_list


@dataclass(frozen=True)
class TargetListRow:
    target_list: TargetList
    targets: int


def target_lists_with_counts() -> list[TargetListRow]:
    rows = db.session.execute(
        select(TargetList, func.count(TargetListMember.target_id))
        .outerjoin(TargetListMember, TargetListMember.target_list_id == TargetList.id)
        .group_by(TargetList.id).order_by(TargetList.created_at.desc(), TargetList.id.desc()))
    return [TargetListRow(target_list, count) for target_list, count in rows]


def target_list_choices() -> list[tuple[int, str]]:
    return [(target_list.id, target_list.name) for target_list in db.session.scalars(
        select(TargetList).order_by(TargetList.name, TargetList.id))]
