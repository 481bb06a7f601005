"""Maintenance mode: a switch in the database that every process follows.

``bastion ops maintenance on`` writes the switch; each process reads it every
``poll_seconds`` in a background task, so requests never wait on it. While it
is on, requests answer 503 ``ops.maintenance`` with ``Retry-After`` — except
exempt paths (probes, metrics, an admin allowlist) and, in read-only mode,
safe methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.core.db import Database
from bastion.core.errors import BastionError
from bastion.core.middleware import send_problem
from bastion.core.routes import PathPrefixes
from bastion.ops.models import MaintenanceSwitch

log = structlog.get_logger("bastion.ops")
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


class MaintenanceMode(BastionError):
    code = "ops.maintenance"
    status = 503
    title = "Down for maintenance"


@dataclass(frozen=True)
class Maintenance:
    """The switch as a process last read it."""

    enabled: bool = False
    read_only: bool = False
    message: str = ""
    retry_after: int = 300


async def read_switch(db: Database) -> Maintenance:
    async with db.session() as session:
        row = await session.get(MaintenanceSwitch, 1)
    if row is None:
        return Maintenance()
    return Maintenance(row.enabled, row.read_only, row.message, row.retry_after)


async def write_switch(db: Database, state: Maintenance) -> None:
    async with db.session() as session:
        row = await session.get(MaintenanceSwitch, 1)
        if row is None:
            row = MaintenanceSwitch(id=1)
            session.add(row)
        row.enabled = state.enabled
        row.read_only = state.read_only
        row.message = state.message
        row.retry_after = state.retry_after


class MaintenanceWatch:
    """Holds the current switch; ``follow`` keeps it fresh while the app runs."""

    def __init__(self, db: Database, poll_seconds: float) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.current = Maintenance()

    async def refresh(self) -> None:
        try:
            latest = await read_switch(self.db)
        except (SQLAlchemyError, OSError) as exc:
            # Keep the last known state: an unreachable database must not flip the switch.
            log.warning("maintenance.read_failed", error=type(exc).__name__)
            return
        if latest != self.current:
            log.info("maintenance.changed", enabled=latest.enabled, read_only=latest.read_only)
            self.current = latest

    @asynccontextmanager
    async def follow(self) -> AsyncIterator[None]:
        # Start-up does not wait for the database: the first read comes one period later.
        async def poll() -> None:
            while True:
                await asyncio.sleep(self.poll_seconds)
                await self.refresh()

        task = asyncio.get_running_loop().create_task(poll())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class MaintenanceMiddleware:
    def __init__(
        self, app: ASGIApp, *, watch: MaintenanceWatch, exempt_paths: Iterable[str], type_base: str
    ) -> None:
        self.app = app
        self.watch = watch
        self.exempt = PathPrefixes(exempt_paths)
        self.type_base = type_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = self.watch.current
        if (
            not current.enabled
            or scope["type"] != "http"
            or (current.read_only and scope["method"] in SAFE_METHODS)
            or self.exempt.covers(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        detail = current.message or "The service is down for maintenance; try again later."
        if current.read_only:
            detail += " Reading still works."
        error = MaintenanceMode(detail, headers={"Retry-After": str(current.retry_after)})
        await send_problem(send, scope, error, type_base=self.type_base)
