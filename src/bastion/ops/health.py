"""Kubernetes-style probes: ``/livez``, ``/readyz`` and ``/startupz``.

``/livez`` does no I/O: it answers while the event loop runs. ``/readyz`` checks
each dependency (database, Redis when configured) with a timeout and answers 503
naming the failed ones. ``/startupz`` answers 200 once the database schema is at
the migration head. The probes sit outside rate limits and authentication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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


async def _probe(request: Request, checks: dict[str, Check]) -> Response:
    settings = bastion_state(request.app).settings
    timeout = settings.health_timeout_seconds
    results = await asyncio.gather(*(_run(name, c, timeout) for name, c in checks.items()))
    report = dict(zip(checks, results, strict=True))
    failed = [name for name, result in report.items() if result["status"] != "pass"]
    if not failed:
        return JSONResponse({"status": "pass", "checks": report})
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
    503: {"description": "A check failed; the body names it."}
}


async def livez() -> dict[str, str]:
    return {"status": "pass"}


async def readyz(request: Request) -> Response:
    state = bastion_state(request.app)
    checks: dict[str, Check] = {"database": state.db.ping}
    if state.redis is not None:
        checks["redis"] = state.redis.ping
    return await _probe(request, checks)


async def startupz(request: Request) -> Response:
    state = bastion_state(request.app)

    async def migrations_at_head() -> None:
        pending = await pending_revisions(state.db, state.migration_dirs)
        if pending:
            raise CheckFailed(f"pending: {', '.join(pending)}; run 'bastion db upgrade'")

    return await _probe(request, {"migrations": migrations_at_head})


def install_health(app: FastAPI) -> None:
    """Add the probes to ``app`` itself: they are hit every few seconds by every
    orchestrator, and a route of the app skips the included-router dispatch."""
    app.add_api_route("/livez", livez, summary="Liveness probe", tags=["ops"])
    app.add_api_route(
        "/readyz", readyz, summary="Readiness probe", tags=["ops"], responses=_NOT_READY
    )
    app.add_api_route(
        "/startupz", startupz, summary="Start-up probe", tags=["ops"], responses=_NOT_READY
    )
