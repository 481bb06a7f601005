"""Wiring idempotency and optimistic locking into an app."""

from __future__ import annotations

from functools import partial

import structlog
from fastapi import FastAPI
from sqlalchemy.orm.exc import StaleDataError
from starlette.routing import BaseRoute

from bastion.core.errors import ConfigurationError
from bastion.core.routes import flat_routes
from bastion.core.state import BastionState
from bastion.idempotency.deps import IdempotentRoute, declares_idempotent
from bastion.idempotency.etag import on_stale_data
from bastion.idempotency.service import Idempotency
from bastion.idempotency.settings import IdempotencySettings
from bastion.idempotency.store import IdempotencyStore
from bastion.idempotency.stores import (
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    SqlIdempotencyStore,
)
from bastion.jobs import JobContext, JobsRegistry
from bastion.jobs.registry import Empty

log = structlog.get_logger("bastion.idempotency")


def build_store(settings: IdempotencySettings, state: BastionState) -> IdempotencyStore:
    if settings.backend == "memory":
        return MemoryIdempotencyStore(clock=state.clock)
    if settings.backend == "sql":
        return SqlIdempotencyStore(state.db, clock=state.clock)
    if state.redis is None:
        raise ConfigurationError("BASTION_IDEMPOTENCY__BACKEND=redis needs BASTION_REDIS_URL")
    return RedisIdempotencyStore(state.redis, prefix=settings.key_prefix)


def install_idempotency(
    app: FastAPI, state: BastionState, settings: IdempotencySettings, jobs: JobsRegistry
) -> None:
    """Build the service into ``state.extensions["idempotency"]``; answer stale writes
    409; purge expired keys every hour (the built-in job ``bastion.idempotency.purge``)."""
    service = state.extensions["idempotency"] = Idempotency(build_store(settings, state), settings)
    type_base = state.settings.problem_type_base
    app.add_exception_handler(StaleDataError, partial(on_stale_data, type_base=type_base))

    async def purge(_payload: Empty, _context: JobContext) -> None:
        log.info("idempotency.purged", deleted=await service.store.purge())

    jobs.builtin_cron("bastion.idempotency.purge", "41 * * * *", purge, retries=2)


def check_idempotent_routes(routes: list[BaseRoute]) -> None:
    """Fail at start-up when a route declares ``Idempotent`` without the route class
    that stores its responses (its keys would stay claimed until the lease ends).
    Routes included later are caught by the dependency itself, at their first request."""
    wrong = [
        info.template
        for info in flat_routes(routes)
        if declares_idempotent(info.route) and not isinstance(info.route, IdempotentRoute)
    ]
    if wrong:
        raise ConfigurationError(
            f"routes {', '.join(sorted(wrong))} declare Idempotent but are not IdempotentRoute: "
            "create their router with APIRouter(route_class=IdempotentRoute)"
        )
