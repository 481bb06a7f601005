"""Optimistic locking outside HTTP: one conditional UPDATE per write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.idempotency.errors import ConflictError


async def update_versioned(
    session: AsyncSession, model: type[Any], ident: Any, expected_version: int, **values: Any
) -> int:
    """Set ``values`` on the row ``ident`` of a ``Versioned`` model if it is still at
    ``expected_version``; return the new version, or raise :class:`ConflictError`.

    One ``UPDATE ... WHERE id = :id AND version = :expected``: the database
    decides, so two writers that read the same version cannot both win.

    ::

        version = await update_versioned(session, Invoice, invoice_id, 3, status="paid")
    """
    mapper = inspect(model)
    column = mapper.version_id_col
    if column is None:
        raise TypeError(f"{model.__name__} is not Versioned")
    (key,) = mapper.primary_key
    statement = (
        update(model)
        .where(key == ident, column == expected_version)
        .values(**values, **{column.key: column + 1})
        .returning(column)
        .execution_options(synchronize_session="fetch")
    )
    new_version = (await session.execute(statement)).scalar_one_or_none()
    if new_version is None:
        raise ConflictError(f"{model.__name__} {ident} is no longer at version {expected_version}.")
    return int(new_version)
