"""``INSERT ... ON CONFLICT`` for the dialect in use (SQLite and PostgreSQL share it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_for(dialect: str) -> Any:
    """The ``insert`` constructor with ``on_conflict_do_*`` for ``dialect``."""
    return pg_insert if dialect == "postgresql" else sqlite_insert
