"""SQL that differs between the two backends we run on."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite


def upsert_insert(dialect_name: str):
    """The INSERT construct that has `on_conflict_do_*` on this backend: PostgreSQL in
    production and tests, SQLite as the embedded default."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert
