"""Kubernetes-style probes: ``/livez``, ``/readyz`` and ``/startupz``.

``/livez`` does no I/O: it answers while the event loop runs. ``/readyz`` runs
the checks of the app's :class:`Readiness` registry (database, Redis when
configured, and whatever features add) concurrently, each with its timeout,
and answers 503 naming the failed ones; once the process is shutting down it
answers 503 at once. ``/startupz`` answers 200 once the database schema is at
the migration head. The probes sit outside rate limits and authentication.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bastion.core.errors import ServiceUnavailable
from bastion.core.problems import PROBLEM_JSON, problem_body
from bastion.core.state import bastion_state
from bastion.lifecycle.migrations import pending_revisions

log = structlog.get_logger("bastion.health")
Check = Callable[[], Awaitable[Any]]
Report = dict[str, dict[str, str]]
CACHE_SECONDS = 1.0
DRAINING: Report = {"shutdown": {"status": "fail", "error": "the process is shutting down"}}


class CheckFailed(Exception):
    """A check's own verdict; its message is safe to show to the prober."""


async def _run(name: str, check: Check, seconds: float) -> dict[str, str]:
    try:
        async with asyncio.timeout(seconds):
            await check()
    except TimeoutError:
        return {"status": "fail", "error": f"timed out after {seconds}s"}
    except CheckFailed as exc:
        return {"status": "fail", "error": str(exc)}
    except Exception as exc:
        # Driver messages can hold host names and users: log them, show the type.
        log.warning("health.check_failed", check=name, error=str(exc))
        return {"status": "fail", "error": type(exc).__name__}
    return {"status": "pass"}


async def run_checks(checks: dict[str, tuple[Check, float]]) -> Report:
    """Run ``{name: (check, timeout)}`` concurrently; a result per name."""
    results = await asyncio.gather(*(_run(name, c, t) for name, (c, t) in checks.items()))
    return dict(zip(checks, results, strict=True))


@dataclass
class _Cached:
    at: float
    report: Report


class Readiness:
    """The readiness checks of one app: features ``add`` theirs at start-up.

    ``/readyz`` runs them all concurrently, each under its own timeout. A report
    is reused for ``cache_seconds``, and probes that arrive while one runs wait
    for it, so a crowd of probers costs one round of checks per second.

    >>> import asyncio
    >>> readiness = Readiness(default_timeout=1.0)
    >>> async def broker() -> None: ...
    >>> readiness.add("broker", broker, timeout=0.5)
    >>> asyncio.run(readiness.report())
    {'broker': {'status': 'pass'}}
    """

    def __init__(self, *, default_timeout: float, cache_seconds: float = CACHE_SECONDS) -> None:
        self.default_timeout = default_timeout
        self.cache_seconds = cache_seconds
        self.draining = False  # set on SIGTERM: /readyz answers 503 from then on
        self._checks: dict[str, tuple[Check, float]] = {}
        self._cached: _Cached | None = None
        self._running: asyncio.Future[Report] | None = None

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    def add(self, name: str, check: Check, *, timeout: float | None = None) -> None:
        """Check ``name`` with ``await check()``: it fails by raising (or by timing out).

        Raise :class:`CheckFailed` with a message safe to show; any other
        exception shows as its type only.
        """
        if name in self._checks:
            raise ValueError(f"a readiness check named {name!r} is already registered")
        self._checks[name] = (check, self.default_timeout if timeout is None else timeout)
        self._cached = None

    async def report(self) -> Report:
        """The result of every check, at most ``cache_seconds`` old."""
        if self.draining:
            return DRAINING
        cached = self._cached
        if cached is not None and time.monotonic() - cached.at < self.cache_seconds:
            return cached.report
        if self._running is None:
            self._running = asyncio.ensure_future(self._refresh())
        # shield: one prober that gives up does not cancel the round the others wait for.
        return await asyncio.shield(self._running)

    async def _refresh(self) -> Report:
        try:
            report = await run_checks(self._checks)
            self._cached = _Cached(time.monotonic(), report)
            return report
        finally:
            self._running = None


def readiness(app: FastAPI | Any) -> Readiness:
    """The readiness registry of an app built by ``create_app``."""
    registry = bastion_state(app).extensions["readiness"]
    assert isinstance(registry, Readiness)
    return registry


def _respond(request: Request, report: Report) -> Response:
    failed = [name for name, result in report.items() if result["status"] != "pass"]
    if not failed:
        return JSONResponse({"status": "pass", "checks": report})
    settings = bastion_state(request.app).settings
    body = problem_body(
        type_base=settings.problem_type_base,
        code=ServiceUnavailable.code,
        status=503,
        title=ServiceUnavailable.title,
        detail=f"Failing checks: {', '.join(failed)}.",
        instance=request.url.path,
        extensions={"checks": report},
    )
    return Response(body, 503, media_type=PROBLEM_JSON)


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "A check failed, or the process is shutting down; the body says which."}
}


async def livez() -> dict[str, str]:
    return {"status": "pass"}


async def readyz(request: Request) -> Response:
    return _respond(request, await readiness(request.app).report())


async def startupz(request: Request) -> Response:
    state = bastion_state(request.app)

    async def migrations_at_head() -> None:
        pending = await pending_revisions(state.db, state.migration_dirs)
        if pending:
            raise CheckFailed(f"pending: {', '.join(pending)}; run 'bastion db upgrade'")

    timeout = state.settings.health_timeout_seconds
    return _respond(request, await run_checks({"migrations": (migrations_at_head, timeout)}))


def install_health(app: FastAPI) -> Readiness:
    """Add the probes to ``app`` itself (they are hit every few seconds by every
    orchestrator, and a route of the app skips the included-router dispatch) and
    create its readiness registry, with the database and Redis checks."""
    state = bastion_state(app)
    registry = Readiness(default_timeout=state.settings.health_timeout_seconds)
    registry.add("database", state.db.ping)
    if state.redis is not None:
        registry.add("redis", state.redis.ping)
    state.extensions["readiness"] = registry
    app.add_api_route("/livez", livez, summary="Liveness probe", tags=["ops"])
    app.add_api_route(
        "/readyz", readyz, summary="Readiness probe", tags=["ops"], responses=_NOT_READY
    )
    app.add_api_route(
        "/startupz", startupz, summary="Start-up probe", tags=["ops"], responses=_NOT_READY
    )
    return registry
