"""PostgreSQL row-level security: the second wall behind the ORM filter.

A migration turns RLS on for each tenant-scoped table with
:func:`enable_tenant_rls`; the policy admits a row only when its ``tenant_id`` is
the transaction's ``bastion.tenant_id`` setting, which every transaction of a
scoped database sets with ``set_config(..., true)`` (``SET LOCAL``) from the
tenant in context. A raw SQL query that forgets the filter still sees only the
current tenant's rows. ``bypass_tenancy`` sets ``bastion.bypass_tenancy``
instead. RLS does not apply to superusers or table owners without ``FORCE``:
the app must connect as an ordinary role (see ``docs/tenancy.md``). For such a
role, a table under the policy in a transaction without the settings has no
rows: :func:`tables_under_policy` finds those tables, for a start-up check.
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bastion.core.db import Database
from bastion.tenancy.scoping import bypassed, current_tenant

POLICY = "bastion_tenant_isolation"
# row_security_active() is PostgreSQL's own answer for the current role: false for
# superusers, BYPASSRLS roles, and owners of tables without FORCE.
_UNDER_POLICY = text(
    "SELECT c.oid::regclass::text FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
    " WHERE p.polname = :policy AND row_security_active(c.oid)"
    " AND has_table_privilege(c.oid, 'SELECT') ORDER BY 1"
)
_CONDITION = (
    "current_setting('bastion.bypass_tenancy', true) = 'on' "
    "OR tenant_id = NULLIF(current_setting('bastion.tenant_id', true), '')::uuid"
)


def enable_tenant_rls(table: str) -> None:
    """In an Alembic ``upgrade()``: isolate ``table``'s rows by tenant (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY {POLICY} ON "{table}" USING ({_CONDITION}) WITH CHECK ({_CONDITION})'
    )


def disable_tenant_rls(table: str) -> None:
    """In an Alembic ``downgrade()``: undo :func:`enable_tenant_rls`."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


_SET = text(
    "SELECT set_config('bastion.tenant_id', :tenant, true), "
    "set_config('bastion.bypass_tenancy', :bypass, true)"
)


def _settings() -> dict[str, str]:
    tenant = current_tenant()
    return {"tenant": str(tenant) if tenant else "", "bypass": "on" if bypassed() else "off"}


def _set_tenant(_session: Session, _transaction: Any, connection: Any) -> None:
    connection.execute(_SET, _settings())


def follow_tenant_in_transactions(db: Database) -> None:
    """Set the tenant settings at the start of every transaction of ``db``
    (PostgreSQL only; idempotent)."""
    if db.dialect != "postgresql":
        return
    db.on_sessions("after_begin", _set_tenant)


async def apply_tenant(session: AsyncSession) -> None:
    """Set the tenant settings on the session's open transaction now: for a tenant
    resolved after the transaction began (by a request's first queries)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_SET, _settings())


async def tables_under_policy(db: Database) -> list[str]:
    """The tables with the tenant policy that ``db``'s role can read and is subject to
    (``[]`` off PostgreSQL, without a query)."""
    if db.dialect != "postgresql":
        return []
    async with db.engine.connect() as connection:
        return list((await connection.scalars(_UNDER_POLICY, {"policy": POLICY})).all())
