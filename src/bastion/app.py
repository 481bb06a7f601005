"""``create_app``: the one place where Bastion's features are wired together."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI

from bastion.auth.install import install_auth
from bastion.core.checks import raise_for_errors
from bastion.core.client_ip import ClientIP
from bastion.core.clock import Clock, SystemClock
from bastion.core.db import Database
from bastion.core.logging import configure_logging
from bastion.core.mail import Mailer, RecordingMailer
from bastion.core.middleware import (
    DOCS_CSP,
    OriginCORSMiddleware,
    RequestContextMiddleware,
    RequestGuardMiddleware,
    security_headers,
    with_csp,
)
from bastion.core.problems import document_problems, install_problem_handlers
from bastion.core.redis import open_redis
from bastion.core.routes import RouteIndex, flat_routes
from bastion.core.state import BastionState, Seeder
from bastion.docs.router import DOCS_PAGES, install_docs
from bastion.idempotency.install import check_idempotent_routes, install_idempotency
from bastion.jobs.install import install_jobs
from bastion.jobs.registry import JobsRegistry
from bastion.ops.health import install_health
from bastion.ops.http_breakers import outbound_client
from bastion.ops.install import (
    fastapi_telemetry,
    install_metrics,
    install_tracing,
    request_observer,
    tracing_running,
)
from bastion.ops.maintenance import MaintenanceMiddleware, MaintenanceWatch
from bastion.ops.pool_metrics import refresher
from bastion.ops.shared_breaker import install_breaker_store
from bastion.ops.shedding import load_shedder
from bastion.ops.shutdown import GracefulShutdown
from bastion.orgs.deps import check_route_permissions
from bastion.orgs.install import build_audit, install_orgs
from bastion.outbox.install import install_outbox, running
from bastion.outbox.relay import Handler
from bastion.ratelimit.install import build_limiter, document_limits, middleware_options
from bastion.ratelimit.middleware import RateLimitMiddleware
from bastion.ratelimit.service import OnLimit, OverrideHook, RateLimiter
from bastion.security.install import Security
from bastion.settings import BastionSettings
from bastion.tenancy.install import check_rls_role, install_tenancy
from bastion.webhooks.events import WebhookRegistry
from bastion.webhooks.install import WebhooksFeature, install_webhooks

log = structlog.get_logger("bastion")
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    settings: BastionSettings | None = None,
    *,
    routers: Iterable[APIRouter] = (),
    migrations: Path | None = None,
    seeders: Mapping[str, Seeder] | None = None,
    title: str | None = None,
    version: str = "0.1.0",
    description: str = "",
    clock: Clock | None = None,
    lifespan: Lifespan | None = None,
    on_rate_limit: OnLimit | None = None,
    rate_limit_overrides: OverrideHook | None = None,
    mailer: Mailer | None = None,
    outbox_handlers: Mapping[str, Handler] | None = None,
    jobs: JobsRegistry | None = None,
    webhooks: WebhookRegistry | None = None,
) -> FastAPI:
    """Build a FastAPI app with Bastion's stack.

    ``settings`` default to the ``BASTION_*`` environment; settings that must not
    run (a default secret in production, ``*`` CORS with credentials) raise
    :class:`~bastion.ConfigurationError` here. ``migrations`` is the app's own
    Alembic versions directory; ``seeders`` are named fixture loaders for
    ``bastion db seed``; ``lifespan`` runs inside Bastion's. ``on_rate_limit``
    is called on every rate limit refusal; ``rate_limit_overrides`` gives
    per-tenant limits (see ``docs/rate-limiting.md``). ``mailer`` sends the
    framework's emails (verification, reset, lockout notices); the default
    records them and logs them (see ``docs/auth.md``). ``outbox_handlers`` maps
    outbox topics to the handlers a relay delivers them to (``docs/concurrency.md``).
    ``jobs`` holds the app's
    background tasks and cron schedules (see ``docs/jobs.md``); ``webhooks`` the
    event types it sends to its tenants' endpoints (see ``docs/webhooks.md``).

    >>> from bastion import BastionSettings
    >>> app = create_app(BastionSettings(env="test", database_url="sqlite:///:memory:"))
    >>> app.state.bastion.settings.env
    'test'
    """
    settings = settings or BastionSettings()
    warnings = raise_for_errors(settings.checks())
    configure_logging(level=settings.log.level, json_output=settings.log_json)
    for warning in warnings:
        log.warning("settings.check", check=warning.id, message=warning.message, hint=warning.hint)

    state = BastionState(
        settings=settings,
        db=Database.from_settings(settings),
        redis=(
            open_redis(
                settings.redis_url.get_secret_value(),
                max_connections=settings.redis_max_connections,
            )
            if settings.redis_url
            else None
        ),
        clock=clock or SystemClock(),
        migration_dirs=(migrations,) if migrations else (),
        seeders=dict(seeders or {}),
        client_ip=ClientIP(settings.http.trusted_proxies),
        mailer=mailer or RecordingMailer(log_body=not settings.is_production),
    )

    @asynccontextmanager
    async def bastion_lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("app.starting", env=settings.env, database=state.db.dialect)
        # Again at start-up, for routers included after create_app returned.
        check_route_permissions(info.route for info in flat_routes(app.router.routes))
        # Everything imported and built so far lives as long as the process: move it
        # out of the collector's sight, so that full collections stay cheap.
        gc.collect()
        gc.freeze()
        try:
            await check_rls_role(state)
            async with (
                refresher(metrics),
                maintenance.follow(),
                shutdown.installed(),
                running(relay, settings.outbox.relay_in_app),
                tracing_running(tracing),
                job_runtime.lifespan(),
            ):
                if lifespan is None:
                    yield
                else:
                    async with lifespan(app):
                        yield
        finally:
            if isinstance(hooks := state.extensions.get("webhooks"), WebhooksFeature):
                await hooks.close()
            await state.http.close()
            if state.redis is not None:
                await state.redis.aclose()
            await state.db.dispose()
            log.info("app.stopped")

    tracing = install_tracing(state, settings.tracing)
    docs = settings.docs_enabled
    app = FastAPI(
        title=title or settings.app_name,
        version=version,
        description=description,
        lifespan=bastion_lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url=None,
        redoc_url=None,
        **fastapi_telemetry(tracing),
    )
    app.state.bastion = state
    state.routes = RouteIndex(app.router.routes)
    install_problem_handlers(app, type_base=settings.problem_type_base)
    document_problems(app)
    shutdown = GracefulShutdown(install_health(app), drain_seconds=settings.shutdown.drain_seconds)
    metrics = install_metrics(app, state, settings.metrics)
    state.http = outbound_client(
        settings.http_client,
        clock=state.clock,
        metrics=metrics,
        store=install_breaker_store(state, settings.breakers),
    )
    audit = state.extensions["audit"] = build_audit(settings.audit, state)
    security = state.extensions["security"] = Security(
        settings.security, settings, state.db, state.http, state.clock, audit
    )
    maintenance = state.extensions["maintenance"] = MaintenanceWatch(
        state.db, settings.maintenance.poll_seconds
    )
    job_runtime = install_jobs(settings.jobs, state, metrics, jobs)
    install_idempotency(app, state, settings.idempotency, job_runtime.queue.registry)
    relay = install_outbox(
        state, settings.outbox, outbox_handlers or {}, metrics, job_runtime.queue.registry
    )
    if docs:
        install_docs(app)
    if settings.auth.enabled:
        install_auth(app, settings.auth, security, state)
        if settings.orgs.enabled:
            tenancy = install_tenancy(settings.tenancy, state)
            rate_limit_overrides = rate_limit_overrides or tenancy.quotas.rate_limit_overrides
            install_orgs(app, settings.orgs, state)
            if webhooks is not None and settings.webhooks.enabled:
                install_webhooks(
                    app,
                    settings.webhooks,
                    state,
                    webhooks,
                    relay,
                    metrics,
                )
    for router in routers:
        app.include_router(router)
    check_idempotent_routes(app.router.routes)
    check_route_permissions(info.route for info in state.routes.entries)
    if settings.ratelimit.enabled:
        state.extensions["ratelimit"] = build_limiter(
            settings.ratelimit,
            state,
            metrics,
            state.routes,
            on_limit=on_rate_limit,
            overrides=rate_limit_overrides,
        )
        document_limits(app, settings.ratelimit, state.routes)
    _install_middleware(app, settings, state)
    return app


def _install_middleware(app: FastAPI, settings: BastionSettings, state: BastionState) -> None:
    """The default stack, outermost first (see ``docs/middleware.md``).

    CORS is left out while no origin is allowed (browsers then refuse every
    cross-origin read, which is the point); the rate limiter when disabled.
    """
    type_base = settings.problem_type_base
    cors = settings.cors
    headers = security_headers(
        csp=settings.http.content_security_policy,
        hsts_max_age=settings.http.hsts_max_age if settings.hsts_enabled else None,
        vary_origin=bool(cors.allow_origins),
    )
    stack: list[tuple[Any, dict[str, Any]]] = [
        (
            RequestContextMiddleware,
            {
                "headers": headers,
                "path_headers": dict.fromkeys(DOCS_PAGES, with_csp(headers, DOCS_CSP)),
                "request_id_header": settings.http.request_id_header,
                "observer": request_observer(state, settings.metrics),
                "shedder": load_shedder(settings.shedding, state.extensions["metrics"]),
                "type_base": type_base,
            },
        ),
    ]
    if cors.allow_origins:
        options = {
            "allow_origins": cors.allow_origins,
            "allow_credentials": cors.allow_credentials,
            "allow_methods": cors.allow_methods,
            "allow_headers": cors.allow_headers,
            "expose_headers": cors.expose_headers,
            "max_age": cors.max_age,
        }
        stack.append((OriginCORSMiddleware, options))
    maintenance = {
        "watch": state.extensions["maintenance"],
        "exempt_paths": settings.maintenance.exempt_paths,
        "type_base": type_base,
    }
    stack.append((MaintenanceMiddleware, maintenance))
    limiter = state.extensions.get("ratelimit")
    if isinstance(limiter, RateLimiter):
        stack.append(
            (RateLimitMiddleware, middleware_options(settings.ratelimit, limiter, type_base))
        )
    guard = {
        "max_body_bytes": settings.http.max_body_bytes,
        "body_timeout": settings.http.body_timeout_seconds,
        "max_headers": settings.http.max_headers,
        "max_header_bytes": settings.http.max_header_bytes,
        "routes": state.routes,
        "type_base": type_base,
    }
    stack.append((RequestGuardMiddleware, guard))
    # add_middleware puts each new one outside the previous ones.
    for middleware, options in reversed(stack):
        app.add_middleware(middleware, **options)
