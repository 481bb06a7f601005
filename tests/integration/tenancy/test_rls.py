"""PostgreSQL row-level security: a raw query that forgets the tenant filter still
sees only the current tenant's rows, when the app connects as an ordinary role."""

from __future__ import annotations

import secrets
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bastion import Database
from bastion.lifecycle import migrations
from bastion.tenancy import bypass_tenancy, tenant_context
from bastion.tenancy.rls import follow_tenant_in_transactions
from examples.taskboard.app import MIGRATIONS

pytestmark = [pytest.mark.tenancy, pytest.mark.postgres]

INSERT_ORG = text(
    "INSERT INTO bastion_orgs (id, name, created_at, updated_at) VALUES (:id, 'org', now(), now())"
)
INSERT_PROJECT = text(
    "INSERT INTO taskboard_projects (id, tenant_id, name, description, version, created_at,"
    " updated_at) VALUES (:id, :tenant, :name, '', 1, now(), now())"
)


@pytest.fixture
async def app_role_db(postgres_url):
    """The migrated database with two tenants' projects, and a Database connected as
    an ordinary (non-owner, non-superuser) role."""
    owner = Database(postgres_url)
    await migrations.upgrade(owner, [MIGRATIONS])
    role = f"bastion_app_{secrets.token_hex(4)}"
    tenants = {"a": uuid.uuid4(), "b": uuid.uuid4()}
    async with owner.engine.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        await connection.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        )
        for name, tenant in tenants.items():
            await connection.execute(INSERT_ORG, {"id": tenant})
            await connection.execute(
                INSERT_PROJECT, {"id": uuid.uuid4(), "tenant": tenant, "name": name}
            )
    app_db = Database(postgres_url.replace("postgres@", f"{role}@", 1))
    follow_tenant_in_transactions(app_db)
    yield app_db, tenants
    await app_db.dispose()
    async with owner.engine.begin() as connection:
        await connection.execute(text(f"DROP OWNED BY {role}"))
        await connection.execute(text(f"DROP ROLE {role}"))
    await owner.dispose()


async def names(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(text("SELECT name FROM taskboard_projects ORDER BY name"))
        return [row.name for row in rows]


async def test_raw_select_sees_only_the_current_tenant(app_role_db):
    db, tenants = app_role_db
    with tenant_context(tenants["a"]):
        assert await names(db) == ["a"]
    with tenant_context(tenants["b"]):
        assert await names(db) == ["b"]
    assert await names(db) == []  # no tenant, no rows
    with bypass_tenancy("test: RLS bypass"):
        assert await names(db) == ["a", "b"]


async def test_rows_cannot_be_written_into_another_tenant(app_role_db):
    db, tenants = app_role_db
    with tenant_context(tenants["a"]), pytest.raises(DBAPIError, match="row-level security"):
        async with db.session() as session:
            await session.execute(
                INSERT_PROJECT, {"id": uuid.uuid4(), "tenant": tenants["b"], "name": "sneaky"}
            )
