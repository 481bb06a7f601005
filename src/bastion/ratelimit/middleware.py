"""The global limit: pure ASGI, decided before routing and before the body is read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.core.middleware import send_problem
from bastion.core.routes import RouteIndex
from bastion.ratelimit.errors import RateLimitExceeded, RateLimitUnavailable
from bastion.ratelimit.headers import RATELIMIT_HEADERS_SCOPE_KEY, rate_limit_headers
from bastion.ratelimit.policy import Policy
from bastion.ratelimit.service import RateLimiter


class RateLimitMiddleware:
    """Applies ``default`` to every request except excluded paths and routes that
    declare their own :class:`~bastion.ratelimit.RateLimit`; adds the rate limit
    headers that either decision produced to the response."""

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
        self.exclude_exact = frozenset(p.rstrip("/") or "/" for p in exclude_paths)
        self.exclude_prefixes = tuple(p.rstrip("/") + "/" for p in exclude_paths)
        self.type_base = type_base
        self._own_policy: dict[int, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        excluded = path in self.exclude_exact or path.startswith(self.exclude_prefixes)
        route = self.routes.lookup(scope)
        own_policy = self._has_own_policy(route.route)
        if excluded and not own_policy:
            await self.app(scope, receive, send)
            return
        # Route dependencies leave their headers here for us to send.
        state = scope.setdefault("state", {})
        headers: list[tuple[bytes, bytes]] = []
        if self.default is not None and not excluded and not own_policy:
            request = Request(scope)
            try:
                decision = await self.limiter.decide(self.default, request, route.template)
            except RateLimitUnavailable as exc:
                await send_problem(send, scope, exc, type_base=self.type_base)
                return
            if decision is not None:
                headers = rate_limit_headers(self.default.name, decision)
                if not decision.allowed:
                    error = RateLimitExceeded(
                        "Too many requests; retry after the time in Retry-After."
                    )
                    error.headers.update((k.decode(), v.decode()) for k, v in headers)
                    await send_problem(send, scope, error, type_base=self.type_base)
                    return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = state.get(RATELIMIT_HEADERS_SCOPE_KEY) or headers
                if extra:
                    message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _has_own_policy(self, route: object) -> bool:
        if route is None:
            return False
        known = self._own_policy.get(id(route))
        if known is None:
            from bastion.ratelimit.deps import declares_rate_limit

            known = self._own_policy[id(route)] = declares_rate_limit(route)
        return known
