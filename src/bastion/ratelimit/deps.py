"""Per-route limits, as a FastAPI dependency that overrides the global one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request

from bastion.core.errors import ConfigurationError
from bastion.core.middleware import add_response_headers
from bastion.core.state import bastion_state
from bastion.ratelimit.errors import RateLimitExceeded
from bastion.ratelimit.headers import rate_limit_headers
from bastion.ratelimit.keys import Key, by_ip
from bastion.ratelimit.limits import Limit, parse_limits
from bastion.ratelimit.policy import FailMode, Policy
from bastion.ratelimit.service import RateLimiter
from bastion.ratelimit.store import Algorithm


def rate_limiter(app: Any) -> RateLimiter:
    """The app's limiter (built by ``create_app`` when rate limiting is enabled)."""
    limiter = bastion_state(app).extensions.get("ratelimit")
    if not isinstance(limiter, RateLimiter):
        raise ConfigurationError(
            "rate limiting is not enabled: set BASTION_RATELIMIT__ENABLED=true"
        )
    return limiter


class RateLimit:
    """A route's own limit; the global default then skips the route.

    >>> from fastapi import APIRouter, Depends
    >>> from bastion.ratelimit import RateLimit, by_user
    >>> router = APIRouter()
    >>> @router.post("/exports", dependencies=[Depends(RateLimit("5/hour", key=by_user))])
    ... async def export() -> dict[str, str]:
    ...     return {"status": "queued"}

    ``limits=None`` uses the app's strict authentication limits
    (``BASTION_RATELIMIT__AUTH``), failing closed: see :data:`auth_rate_limit`.
    A policy without ``name`` counts per route template.
    """

    def __init__(
        self,
        limits: str | Sequence[str] | Sequence[Limit] | None,
        *,
        name: str | None = None,
        key: Key = by_ip,
        algorithm: Algorithm = "gcra",
        fail_mode: FailMode = "open",
        cost: int = 1,
    ) -> None:
        self.limits = parse_limits(limits) if limits is not None else None
        self.name = name
        self.key = key
        self.algorithm = algorithm
        self.fail_mode = fail_mode
        self.cost = cost
        self._policies: dict[str, Policy] = {}

    def _policy(self, route: str, auth_limits: tuple[Limit, ...]) -> Policy:
        policy = self._policies.get(route)
        if policy is None:
            policy = self._policies[route] = Policy(
                self.name or f"route:{route}",
                self.limits or auth_limits,
                self.key,
                self.algorithm,
                self.fail_mode,
                self.cost,
            )
        return policy

    async def __call__(self, request: Request) -> None:
        limiter = bastion_state(request.app).extensions.get("ratelimit")
        if not isinstance(limiter, RateLimiter):
            return  # BASTION_RATELIMIT__ENABLED=false turns every limit off
        route = limiter.routes.lookup(request.scope).template
        policy = self._policy(route, limiter.auth_limits)
        decision = await limiter.decide(policy, request, route)
        if decision is None:
            return
        headers = rate_limit_headers(policy.name, decision)
        if not decision.allowed:
            raise RateLimitExceeded(
                "Too many requests; retry after the time in Retry-After.",
                headers={k.decode(): v.decode() for k, v in headers},
            )
        add_response_headers(request.scope, headers)


def auth_rate_limit(name: str) -> RateLimit:
    """The strict limit of an authentication route (login, password reset, MFA...):
    the app's ``BASTION_RATELIMIT__AUTH`` per client IP, failing closed."""
    return RateLimit(None, name=f"auth:{name}", fail_mode="closed")


def declares_rate_limit(route: Any) -> bool:
    """Whether a route has a :class:`RateLimit` among its dependencies."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        if isinstance(dependant.call, RateLimit):
            return True
        stack.extend(dependant.dependencies)
    return False
