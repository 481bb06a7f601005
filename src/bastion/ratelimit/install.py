"""Wiring rate limiting into an app: store, limiter, middleware, OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bastion.core.errors import ConfigurationError
from bastion.core.problems import PROBLEM_JSON, PROBLEM_SCHEMA
from bastion.core.routes import PathPrefixes, RouteIndex
from bastion.core.state import BastionState
from bastion.ops.metrics import Metrics
from bastion.ratelimit.deps import declares_rate_limit
from bastion.ratelimit.limits import parse_limits
from bastion.ratelimit.policy import Policy
from bastion.ratelimit.service import OnLimit, OverrideHook, RateLimiter
from bastion.ratelimit.settings import RateLimitSettings
from bastion.ratelimit.store import RateLimitStore
from bastion.ratelimit.stores import MemoryRateLimitStore, RedisRateLimitStore


def build_store(settings: RateLimitSettings, state: BastionState) -> RateLimitStore:
    use_redis = settings.backend == "redis" or (
        settings.backend == "auto" and state.redis is not None
    )
    if not use_redis:
        return MemoryRateLimitStore(clock=state.clock, max_keys=settings.max_memory_keys)
    if state.redis is None:
        raise ConfigurationError("BASTION_RATELIMIT__BACKEND=redis needs BASTION_REDIS_URL")
    return RedisRateLimitStore(
        state.redis, prefix=settings.key_prefix, timeout=settings.timeout_ms / 1000
    )


def build_limiter(
    settings: RateLimitSettings,
    state: BastionState,
    metrics: Metrics,
    routes: RouteIndex,
    *,
    on_limit: OnLimit | None = None,
    overrides: OverrideHook | None = None,
) -> RateLimiter:
    return RateLimiter(
        build_store(settings, state),
        routes=routes,
        auth_limits=parse_limits(settings.auth),
        client_ip=state.client_ip,
        metrics=metrics,
        on_limit=on_limit,
        overrides=overrides,
        override_ttl=settings.override_cache_seconds,
    )


def middleware_options(
    settings: RateLimitSettings, limiter: RateLimiter, type_base: str
) -> dict[str, Any]:
    default = (
        Policy.of("default", settings.default, fail_mode=settings.fail_mode)
        if settings.default
        else None
    )
    return {
        "limiter": limiter,
        "routes": limiter.routes,
        "default": default,
        "exclude_paths": tuple(settings.exclude_paths),
        "type_base": type_base,
    }


_TOO_MANY = {
    "description": "Rate limit exceeded (problem+json `rate_limit.exceeded`).",
    "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    "headers": {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
        "RateLimit": {"description": "Remaining quota (IETF draft).", "schema": {"type": "string"}},
        "RateLimit-Policy": {
            "description": "Quota policy (IETF draft).",
            "schema": {"type": "string"},
        },
    },
}


def document_limits(app: FastAPI, settings: RateLimitSettings, routes: RouteIndex) -> None:
    """Add the 429 response to every limited operation of the app's OpenAPI."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        excluded = PathPrefixes(settings.exclude_paths)
        for info in routes.entries:
            limited = declares_rate_limit(info.route) or (
                settings.default and not excluded.covers(info.template)
            )
            operations = schema.get("paths", {}).get(info.template, {})
            for method in info.methods or ():
                operation = operations.get(method.lower())
                if limited and operation is not None:
                    operation.setdefault("responses", {})["429"] = _TOO_MANY
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
