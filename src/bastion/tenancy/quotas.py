"""Per-tenant quotas: plan limits with per-tenant overrides.

A limit comes from the tenant's row in ``bastion_tenant_quotas`` or else from
``BASTION_TENANCY__DEFAULT_QUOTAS``; a name with neither is unlimited. The
``Quota`` dependency counts what the tenant has and refuses one more with 403
``tenancy.quota_exceeded``. On PostgreSQL it first locks the tenant's row, so
concurrent creations of one tenant are counted one after another.

The ``requests_per_minute`` quota feeds the rate limiter's per-tenant override
hook (:meth:`Quotas.rate_limit_overrides`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.db import Database
from bastion.core.db.upsert import insert_for
from bastion.ratelimit.limits import Limit, parse_limits
from bastion.tenancy.errors import QuotaExceeded, TenantRequired
from bastion.tenancy.models import TenantQuota
from bastion.tenancy.scoping import TENANT_TABLE, current_tenant

RATE_QUOTA = "requests_per_minute"
Counter = Callable[[AsyncSession], Awaitable[int]]
_TENANTS = table(TENANT_TABLE, column("id"))


class Quotas:
    """Reads and sets tenants' limits."""

    def __init__(self, db: Database, defaults: Mapping[str, int]) -> None:
        self.db = db
        self.defaults = dict(defaults)

    async def limit(self, session: AsyncSession, tenant: uuid.UUID, name: str) -> int | None:
        """The tenant's limit for ``name``; ``None`` when unlimited."""
        own = await session.scalar(
            select(TenantQuota.limit).where(
                TenantQuota.tenant_id == tenant, TenantQuota.name == name
            )
        )
        return own if own is not None else self.defaults.get(name)

    async def set_limit(
        self, session: AsyncSession, tenant: uuid.UUID, name: str, limit: int
    ) -> None:
        statement = insert_for(self.db.dialect)(TenantQuota).values(
            tenant_id=tenant, name=name, limit=limit
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[TenantQuota.tenant_id, TenantQuota.name], set_={"limit": limit}
            )
        )

    async def enforce(self, session: AsyncSession, name: str, count: Counter) -> None:
        """Refuse one more ``name`` for the current tenant when it has its limit."""
        tenant = current_tenant()
        if tenant is None:
            raise TenantRequired(f"quota {name!r} checked without a tenant")
        limit = await self.limit(session, tenant, name)
        if limit is None:
            return
        if self.db.dialect == "postgresql":
            await session.execute(
                select(_TENANTS.c.id).where(_TENANTS.c.id == tenant).with_for_update()
            )
        used = await count(session)
        if used >= limit:
            raise QuotaExceeded(
                f"The plan allows {limit} {name}; {used} are in use.",
                quota=name,
                limit=limit,
                used=used,
            )

    async def rate_limit_overrides(self, _policy: str, tenant: object) -> Sequence[Limit] | None:
        """A rate limiter override hook: the tenant's ``requests_per_minute``."""
        try:
            tenant_id = tenant if isinstance(tenant, uuid.UUID) else uuid.UUID(str(tenant))
        except ValueError:
            return None
        async with self.db.session() as session:
            limit = await self.limit(session, tenant_id, RATE_QUOTA)
        return parse_limits(f"{limit}/minute") if limit else None
