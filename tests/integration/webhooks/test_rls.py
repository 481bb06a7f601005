"""Row-level security on the webhook tables (PostgreSQL), with the app connected as
an ordinary role and ``BASTION_TENANCY__RLS=true``: deliveries still work, a raw
query sees only the current tenant's rows, and ``bypass_tenancy`` (the sweep's,
the dispatcher's) sees every tenant's."""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bastion import Database, bastion_state, create_app
from bastion.lifecycle import migrations
from bastion.tenancy import bypass_tenancy, tenant_context
from tests.conftest import FAST_HASHING, make_settings
from tests.e2e.test_cli import bastion
from tests.integration.webhooks.conftest import FAST, producer, registry
from tests.integration.webhooks.test_delivery import TASK, add_endpoint
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.webhooks, pytest.mark.tenancy, pytest.mark.postgres]

TABLES = (
    "bastion_webhook_endpoints",
    "bastion_webhook_messages",
    "bastion_webhook_deliveries",
    "bastion_webhook_attempts",
)


@pytest.fixture
async def app_role_url(postgres_url: str) -> AsyncIterator[str]:
    """The migrated database, reached as a new role that owns nothing and is no
    superuser (row-level security applies to it)."""
    owner = Database(postgres_url)
    await migrations.upgrade(owner)
    role = f"bastion_app_{secrets.token_hex(4)}"
    async with owner.engine.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        for grant in (
            "SELECT, INSERT, UPDATE, DELETE ON ALL TABLES",
            "USAGE, SELECT ON ALL SEQUENCES",
        ):
            await connection.execute(text(f"GRANT {grant} IN SCHEMA public TO {role}"))
    try:
        yield postgres_url.replace("postgres@", f"{role}@", 1)
    finally:
        async with owner.engine.begin() as connection:
            await connection.execute(text(f"DROP OWNED BY {role}"))
            await connection.execute(text(f"DROP ROLE {role}"))
        await owner.dispose()


async def tenants_in(db: Database, table: str) -> set[uuid.UUID]:
    """The tenants whose rows a raw SELECT, with no tenant filter, sees."""
    async with db.session() as session:
        return set((await session.scalars(text(f"SELECT tenant_id FROM {table}"))).all())


async def without_tenant(db: Database, table: str) -> set[uuid.UUID]:
    """:func:`tenants_in` from a task with no tenant in context (the in-process test
    client leaves the last request's tenant in the test's own context)."""
    loop = asyncio.get_running_loop()
    return await loop.create_task(tenants_in(db, table), context=contextvars.Context())


async def test_webhook_rows_are_walled_by_tenant(app_role_url, client_for, receiver):
    hooks = registry()
    settings = make_settings(app_role_url, **FAST_HASHING, **FAST, tenancy={"rls": True})
    app = create_app(settings, webhooks=hooks, routers=[producer(hooks)])
    client = await client_for(app, migrate=False)
    a = uuid.UUID(await sign_in_to_new_org(client))
    b = uuid.UUID((await client.post("/orgs", json={"name": "Other"})).json()["id"])
    endpoints = []
    for org in (a, b):  # an endpoint, a delivered event and a test event in each
        client.headers["X-Tenant-ID"] = str(org)
        endpoint_id, _ = await add_endpoint(client, receiver.url)
        endpoints.append(endpoint_id)
        assert (await client.post("/publish", json={"data": TASK})).status_code == 200
        assert (await client.post(f"/webhooks/endpoints/{endpoint_id}/test")).json()["succeeded"]
    await receiver.wait_for(4)
    attempts = (await client.get(f"/webhooks/endpoints/{endpoint_id}/attempts")).json()
    assert len(attempts["items"]) >= 1  # b's, through its own wall

    db = bastion_state(app).db
    for table in TABLES:
        with tenant_context(a):
            assert await tenants_in(db, table) == {a}, table
        with tenant_context(b):
            assert await tenants_in(db, table) == {b}, table
        assert await without_tenant(db, table) == set(), table  # no tenant, no rows
    with bypass_tenancy("test: what the sweep and the dispatcher read"):
        assert await tenants_in(db, "bastion_webhook_deliveries") == {a, b}

    # The command line reads every tenant's rows too (as the same ordinary role).
    listed = bastion("webhooks", "endpoints", "list", database_url=app_role_url, COLUMNS="250")
    assert listed.returncode == 0, listed.stderr
    assert all(endpoint[:8] in listed.stdout for endpoint in endpoints)
    tried = bastion("webhooks", "attempts", endpoint_id, database_url=app_role_url, COLUMNS="250")
    assert tried.returncode == 0, tried.stderr
    assert "200" in tried.stdout


async def test_rows_cannot_be_written_into_another_tenant(app_role_url, client_for):
    settings = make_settings(app_role_url, **FAST_HASHING, tenancy={"rls": True})
    app = create_app(settings, webhooks=registry())
    client = await client_for(app, migrate=False)
    a = uuid.UUID(await sign_in_to_new_org(client))
    b = uuid.UUID((await client.post("/orgs", json={"name": "Other"})).json()["id"])
    insert = text(
        "INSERT INTO bastion_webhook_messages (id, tenant_id, type, data, created_at)"
        " VALUES (:id, :tenant, 'task.created', '{}', :now)"
    )
    db = bastion_state(app).db
    with tenant_context(a), pytest.raises(DBAPIError, match="row-level security"):
        async with db.session() as session:
            await session.execute(
                insert, {"id": uuid.uuid4(), "tenant": b, "now": datetime.now(UTC)}
            )
