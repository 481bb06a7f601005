"""bastion: row-level security on the webhook tables (PostgreSQL)

Each row is visible only in its tenant's transactions (``bastion.tenant_id``), or
in a ``bypass_tenancy`` block (``bastion.bypass_tenancy``): the policy of
``bastion.tenancy.rls.enable_tenant_rls``, written out here because a migration
keeps the DDL of its revision (and ``lifecycle`` does not import ``tenancy``).
A no-op on SQLite.

Revision ID: bastion_0011
Revises: bastion_0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "bastion_0011"
down_revision: str | Sequence[str] | None = "bastion_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "bastion_webhook_endpoints",
    "bastion_webhook_messages",
    "bastion_webhook_deliveries",
    "bastion_webhook_attempts",
)
POLICY = "bastion_tenant_isolation"
CONDITION = (
    "current_setting('bastion.bypass_tenancy', true) = 'on' "
    "OR tenant_id = NULLIF(current_setting('bastion.tenant_id', true), '')::uuid"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        op.execute(
            f'CREATE POLICY {POLICY} ON "{table}" USING ({CONDITION}) WITH CHECK ({CONDITION})'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
