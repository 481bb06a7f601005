"""The FastAPI dependency that gives each request its own session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database = request.app.state.bastion.db
    async with database.session() as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed
# commit becomes an error response instead of a 200 for data that was not saved.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
"""A request-scoped ``AsyncSession``: committed when the route returns, rolled back
when it raises.

>>> from fastapi import APIRouter
>>> router = APIRouter()
>>> @router.get("/count")
... async def count(session: DbSession) -> int:
...     return 0
"""
