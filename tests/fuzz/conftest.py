"""Fuzzing every form and URL parameter: no answer is a 5xx, and input that is refused
writes nothing.

Hypothesis runs each test's examples inside one test function, so the database is not
emptied between examples: every example compares the row count of every table before
and after, and a refused answer (4xx) must leave them all as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import text

from campaign.extensions import db
from tests.letters.conftest import letter_page, write_letters  # noqa: F401
from tests.staff.conftest import create_staff, log_in, staff_client  # noqa: F401

# Bounded so that the whole suite stays within a minute on a small machine.
settings.register_profile(
    "fuzz", max_examples=50, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large])
FUZZ = settings.get_profile("fuzz")

# Values that broke (or could break) something: NUL and other control characters, numbers
# past every integer type, markup, encodings' edge cases and the empty string.
EDGE_VALUES = [
    "", " ", "\x00", "a\x00b", "\x01", "\x1b[31m", "\x7f", "\t", "\r\n", "\n\n",
    "\u2028", "\ufeff", "\ufffd", "\u202e", "𝔘𝔫𝔦", "지우", "北朝鮮", "ﷺ" * 50,
    "0", "-1", "1e9", "NaN", "None", "null", "true", "9" * 30, str(2**31), str(2**63),
    str(-2**63 - 1), "0x10", "١٢٣",
    "<script>alert(1)</script>", "{first_name}", "{{7*7}}", "%00", "%s%s%s", "' OR 1=1 --",
    "a" * 300, "x" * 70_000, "@", "a@b", "a@b.c", "지우@example.org", "ji@한국.example.org",
    "ji-woo@example.org", "https://example.org/", "javascript:alert(1)", "../../etc/passwd",
]

CONTROL_CHARACTERS = [chr(code) for code in (*range(0x20), 0x7F)]

# Text as a form or a URL may carry it: any characters, one of the edge values, or text
# around a control character (which random text holds too rarely to find a bug by).
any_text = st.one_of(
    st.text(max_size=200), st.sampled_from(EDGE_VALUES),
    st.builds(lambda before, control, after: before + control + after,
              st.text(max_size=20),
              # NUL above all: the one PostgreSQL refuses in text.
              st.one_of(st.just("\x00"), st.sampled_from(CONTROL_CHARACTERS)),
              st.text(max_size=20)))


def maybe(value: str) -> st.SearchStrategy[str]:
    """A field's good value half of the time, anything at all the other half."""
    return st.one_of(st.just(value), any_text)


def one_bad_field(good: dict[str, str], name: str,
                  **optional: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """A good form with the field `name` made anything at all, so that a bad value gets
    past every other field's checks (to the database, if nothing stops it); plus any of
    the `optional` fields."""
    return st.fixed_dictionaries({**{key: st.just(value) for key, value in good.items()},
                                  name: any_text}, optional=optional)


def every_field(good: dict[str, str], **optional: st.SearchStrategy) -> st.SearchStrategy:
    """A form where any field may be anything."""
    return st.fixed_dictionaries({key: maybe(value) for key, value in good.items()},
                                 optional=optional)


# Forms are fuzzed a field at a time (a test per field), and then all at once.
PER_FIELD = settings(FUZZ, max_examples=8)


def fuzzed(good: dict[str, str], name: str | None):
    """The form with the field `name` fuzzed (at PER_FIELD examples), or every field."""
    if name is None:
        return FUZZ, every_field(good)
    return PER_FIELD, one_bad_field(good, name)


@pytest.fixture(autouse=True)
def answer_errors_as_a_server_would(app: Flask) -> Iterator[None]:
    """The test client re-raises a view's exception; a server answers 500, which is what
    these tests look for."""
    limits = {name: app.config[name] for name in ("SIGN_RATE_LIMIT", "STAFF_LOGIN_RATE_LIMIT")}
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # The limits are tested elsewhere; here they would stop the fuzzing after a few tries.
    app.config.update(SIGN_RATE_LIMIT="100000/minute", STAFF_LOGIN_RATE_LIMIT="100000/minute")
    yield
    app.config["PROPAGATE_EXCEPTIONS"] = None
    app.config.update(limits)


@pytest.fixture
def row_counts(app: Flask) -> Callable[[], dict[str, int]]:
    """The number of rows in every table, in one statement."""
    with app.app_context():
        tables = [table.name for table in db.metadata.sorted_tables]
    statement = text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{name}")'
                                            for name in tables))

    def counts() -> dict[str, int]:
        with app.app_context():
            return dict(zip(tables, db.session.execute(statement).one(), strict=True))

    return counts


def records_staff_refusals(table: str) -> bool:
    """Tables where a refused sign-in or password change may rightly leave a row (the
    activity record, throttling): staff tables but the accounts themselves."""
    return table.startswith("staff_") and table != "staff_users"


@pytest.fixture
def check(row_counts) -> Callable:
    """Sends one request and checks its answer: never a 5xx; a 4xx writes nothing, but
    to the tables `may_record` names."""

    def send(request: Callable, *args, may_record: Callable[[str], bool] = lambda _: False,
             **kwargs):
        before = row_counts()
        response = request(*args, **kwargs)
        status = response.status_code
        assert status < 500, (status, args, kwargs)
        if status >= 400:
            after = row_counts()
            changed = {name for name in before
                       if before[name] != after[name] and not may_record(name)}
            assert not changed, (status, changed, args, kwargs)
        return response

    return send
