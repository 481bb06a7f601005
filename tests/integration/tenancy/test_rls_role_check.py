"""The start-up check ``tenancy.E001``: an app whose PostgreSQL role is subject to
row-level security, without ``BASTION_TENANCY__RLS``, would see no rows in those
tables (webhooks never delivered, projects gone); it refuses to start instead."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from bastion import ConfigurationError, Database
from bastion.lifecycle import migrations
from bastion.tenancy.rls import tables_under_policy
from examples.taskboard.app import MIGRATIONS, build
from tests.conftest import make_settings

pytestmark = pytest.mark.tenancy

TABLES_UNDER_POLICY = text(
    "SELECT c.oid::regclass::text FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
    " WHERE p.polname = 'bastion_tenant_isolation'"
)
RoleUrl = Callable[..., Awaitable[str]]


async def start(url: str, *, rls: bool) -> None:
    """Run the reference app's lifespan (start, then stop) on ``url``."""
    app = build(make_settings(url, tenancy={"rls": rls}))
    async with app.router.lifespan_context(app):
        pass


@pytest.fixture
async def role_url(postgres_url: str) -> AsyncIterator[RoleUrl]:
    """``await role_url(migrate=..., owner=...)``: the scratch database, migrated by the
    superuser or not, and a URL to it as a new ordinary role (LOGIN, no BYPASSRLS)
    granted the usual privileges, or owning the tables under the tenant policy."""
    admin = Database(postgres_url)
    role = f"bastion_app_{secrets.token_hex(4)}"

    async def make(*, migrate: bool = True, owner: bool = False) -> str:
        if migrate:
            await migrations.upgrade(admin, [MIGRATIONS])
        async with admin.engine.begin() as connection:
            await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
            await connection.execute(
                text(
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
                )
            )
            if owner:
                for table in (await connection.scalars(TABLES_UNDER_POLICY)).all():
                    await connection.execute(text(f"ALTER TABLE {table} OWNER TO {role}"))
        return postgres_url.replace("postgres@", f"{role}@", 1)

    yield make
    async with admin.engine.begin() as connection:
        await connection.execute(text(f"DROP OWNED BY {role}"))
        await connection.execute(text(f"DROP ROLE {role}"))
    await admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("owner", [False, True], ids=["granted", "owner"])
async def test_refused_when_the_role_is_subject_and_rls_is_off(role_url, owner):
    url = await role_url(owner=owner)  # FORCE: the tables' owner is subject too
    with pytest.raises(ConfigurationError) as refused:
        await start(url, rls=False)
    assert str(refused.value) == (
        "tenancy.E001: The database role is subject to row-level security on"
        " bastion_webhook_attempts, bastion_webhook_deliveries, bastion_webhook_endpoints,"
        " bastion_webhook_messages, taskboard_projects and 1 more, but BASTION_TENANCY__RLS"
        " is off: every query on those tables would see no rows."
        " Hint: Set BASTION_TENANCY__RLS=true, or connect as a role with BYPASSRLS."
    )


@pytest.mark.postgres
async def test_starts_with_rls_on(role_url):
    await start(await role_url(), rls=True)


@pytest.mark.postgres
async def test_starts_as_a_superuser_with_rls_off(postgres_url):
    admin = Database(postgres_url)
    await migrations.upgrade(admin, [MIGRATIONS])
    await admin.dispose()
    await start(postgres_url, rls=False)


@pytest.mark.postgres
async def test_starts_before_the_migrations(role_url):
    url = await role_url(migrate=False)
    await start(url, rls=False)
    db = Database(url)
    assert await tables_under_policy(db) == []
    await db.dispose()


@pytest.mark.postgres
async def test_the_list_names_every_table_the_role_is_subject_to(role_url):
    db = Database(await role_url())
    found = await tables_under_policy(db)
    await db.dispose()
    assert {"taskboard_projects", "taskboard_tasks", "bastion_webhook_endpoints"} <= set(found)


async def test_an_unreachable_database_is_logged_not_fatal():
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build(make_settings(f"postgresql+asyncpg://app@127.0.0.1:{port}/app"))
    with capture_logs() as logs:  # after create_app, which configures the logging
        async with app.router.lifespan_context(app):
            pass
    assert any(entry["event"] == "tenancy.rls_check_skipped" for entry in logs)


async def test_sqlite_is_not_queried(tmp_path):
    # Connecting would fail: the directory does not exist.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'app.db'}")
    assert await tables_under_policy(db) == []
    await db.dispose()
