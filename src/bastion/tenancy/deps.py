"""FastAPI dependencies of tenancy: quotas.

>>> from fastapi import APIRouter, Depends
>>> from sqlalchemy import func, select
>>> async def count_reports(session) -> int:
...     return 0
>>> router = APIRouter()
>>> @router.post("/reports", dependencies=[Depends(require_quota("reports", count_reports))])
... async def create_report() -> dict[str, str]:
...     return {}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from bastion.core.db import DbSession
from bastion.tenancy.install import tenancy_of
from bastion.tenancy.quotas import Counter


def require_quota(name: str, count: Counter) -> Callable[..., Awaitable[None]]:
    """Refuse (403 ``tenancy.quota_exceeded``) one more ``name`` for the current
    tenant once ``count`` reaches its limit. List it after the dependency that
    resolves the tenant (a permission check does)."""

    async def check(request: Request, session: DbSession) -> None:
        await tenancy_of(request.app).quotas.enforce(session, name, count)

    return check
