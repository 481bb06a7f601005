"""A migrated database (SQLite and PostgreSQL) for the outbox and inbox tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bastion import Database
from bastion.lifecycle import migrations


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=20)
    await migrations.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url, pool_size=20)
    await migrations.upgrade(database)
    yield database
    await database.dispose()
