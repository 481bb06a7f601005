"""Rows as JSON and back, by column type: what an export file holds."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table


def encode(value: Any) -> Any:
    """A JSON value for a column value."""
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def row_line(names: Sequence[str], row: Sequence[Any]) -> bytes:
    """One JSON line for ``row`` (values in the order of ``names``)."""
    data = {name: encode(value) for name, value in zip(names, row, strict=True)}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _python_type(column: Column[Any]) -> type | None:
    # A TypeDecorator (UTCDateTime) takes the values of its implementation's type.
    kind = getattr(column.type, "impl_instance", column.type)
    try:
        return kind.python_type
    except NotImplementedError:
        return None


def decode_row(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    """Column values for a JSON row; a column the table lacks is an error."""
    unknown = set(data) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name}: unknown columns {sorted(unknown)}")
    return {name: decode(table.c[name], value) for name, value in data.items()}


def decode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    kind = _python_type(column)
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is dt.time:
        return dt.time.fromisoformat(value)
    if kind is decimal.Decimal:
        return decimal.Decimal(value)
    if kind is bytes:
        return base64.b64decode(value)
    return value
