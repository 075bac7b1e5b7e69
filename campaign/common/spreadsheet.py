"""Cells for CSV files staff open in a spreadsheet program."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """`value` as a cell's text. A cell starting with = + - @ (or a tab or carriage
    return, which some programs skip first) is run as a formula by spreadsheet programs,
    and supporters type names, letters and UTM tags: a leading apostrophe makes it text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text
