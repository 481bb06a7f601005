"""The global limit: pure ASGI, decided before routing and before the body is read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.core.middleware import add_response_headers, send_problem
from bastion.core.routes import PathPrefixes, RouteIndex
from bastion.ratelimit.errors import RateLimitExceeded, RateLimitUnavailable
from bastion.ratelimit.headers import rate_limit_headers
from bastion.ratelimit.policy import Policy
from bastion.ratelimit.service import RateLimiter


class RateLimitMiddleware:
    """Applies ``default`` to every request except excluded paths and routes that
    declare their own :class:`~bastion.ratelimit.RateLimit` (which decide in the
    route's dependencies). The headers of a decision reach the response through
    :func:`~bastion.core.middleware.add_response_headers`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        routes: RouteIndex,
        default: Policy | None,
        exclude_paths: tuple[str, ...] = (),
        type_base: str,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.routes = routes
        self.default = default
        # "/docs" excludes "/docs" and "/docs/...", not "/docsearch".
        self.excluded = PathPrefixes(exclude_paths)
        self.type_base = type_base
        self._own_policy: dict[int, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.default is not None:
            path = scope["path"]
            if not self.excluded.covers(path):
                route = self.routes.lookup(scope)
                if not self._has_own_policy(route.route) and not await self._admit(
                    scope, send, route.template
                ):
                    return
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, send: Send, route: str) -> bool:
        """Decide by the default policy; answer 429/503 and return False to refuse."""
        assert self.default is not None
        try:
            decision = await self.limiter.decide(self.default, Request(scope), route)
        except RateLimitUnavailable as exc:
            await send_problem(send, scope, exc, type_base=self.type_base)
            return False
        if decision is None:
            return True
        headers = rate_limit_headers(self.default.name, decision)
        if decision.allowed:
            add_response_headers(scope, headers)
            return True
        error = RateLimitExceeded("Too many requests; retry after the time in Retry-After.")
        error.headers.update((k.decode(), v.decode()) for k, v in headers)
        await send_problem(send, scope, error, type_base=self.type_base)
        return False

    def _has_own_policy(self, route: object) -> bool:
        if route is None:
            return False
        known = self._own_policy.get(id(route))
        if known is None:
            from bastion.ratelimit.deps import declares_rate_limit

            known = self._own_policy[id(route)] = declares_rate_limit(route)
        return known
