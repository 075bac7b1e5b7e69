"""The repository stands alone: a fresh clone, with nothing beside it, runs and tests."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

# The development machine's sibling folder `shared`: the tests once read the Congress data
# from it, and 14 of them failed on a checkout without it.
OUTSIDE = re.compile(r"(\.\./|\.parent\s*/\s*[\"'])shared\b")
SOURCES = ("campaign", "workers", "tests", "scripts", "bench", "deploy", "migrations")


def test_nothing_reads_or_points_to_files_outside_the_repository():
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".sh", ".md", ".conf", ".yaml", ".yml", ".toml") \
                    or path == Path(__file__):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if OUTSIDE.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
