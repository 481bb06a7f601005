"""The limiter: turns a policy and a request into a decision, and survives outages."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.requests import Request

from bastion.core.client_ip import ClientIP
from bastion.core.context import tenant_id_var
from bastion.core.routes import RouteIndex
from bastion.ops.metrics import Metrics
from bastion.ratelimit.errors import RateLimitUnavailable
from bastion.ratelimit.limits import Limit
from bastion.ratelimit.policy import Policy
from bastion.ratelimit.store import Decision, RateLimitStore

log = structlog.get_logger("bastion.ratelimit")

# (policy name, tenant id) -> limits replacing the policy's, or None to keep them.
OverrideHook = Callable[[str, object], Awaitable[Sequence[Limit] | None]]


@dataclass(frozen=True)
class LimitHit:
    """What the ``on_limit`` hook learns about a refused request."""

    policy: str
    key: str
    route: str
    decision: Decision


OnLimit = Callable[[LimitHit], Awaitable[None] | None]


class RateLimiter:
    """Decides requests against a store, with a failure mode for when it fails.

    ``routes`` names the route template of a request; ``auth_limits`` are the
    limits of :func:`~bastion.ratelimit.auth_rate_limit` routes.

    ``overrides`` replaces a policy's limits per tenant (plans); its answers are
    cached for ``override_ttl`` seconds. ``on_limit`` is called on every refusal
    (bans, alerts); it must not raise.
    """

    def __init__(
        self,
        store: RateLimitStore,
        *,
        routes: RouteIndex,
        auth_limits: tuple[Limit, ...],
        client_ip: ClientIP | None = None,
        metrics: Metrics | None = None,
        on_limit: OnLimit | None = None,
        overrides: OverrideHook | None = None,
        override_ttl: float = 30.0,
        outage_log_interval: float = 60.0,
    ) -> None:
        self.store = store
        self.routes = routes
        self.auth_limits = auth_limits
        self.client_ip = client_ip or ClientIP()
        self.on_limit = on_limit
        self.overrides = overrides
        self.override_ttl = override_ttl
        self.outage_log_interval = outage_log_interval
        self._override_cache: dict[tuple[str, object], tuple[float, Sequence[Limit] | None]] = {}
        self._last_outage_log: dict[str, float] = {}  # per policy
        self._counters: dict[tuple[str, str, str, str], Any] = {}
        self._decisions = (metrics or Metrics()).counter(
            "bastion_ratelimit_decisions_total",
            "Rate limit decisions by policy, route template, key kind and outcome.",
            ["policy", "http_route", "key_kind", "outcome"],
        )

    async def decide(self, policy: Policy, request: Request, route: str) -> Decision | None:
        """The decision, or ``None`` when the request is not limited (no key, or failed open).

        Raises :class:`RateLimitUnavailable` when the store fails and the policy fails closed.
        """
        key = policy.key(request, self.client_ip)
        if key is None:
            return None
        full_key = f"{policy.name}:{key}"
        try:
            limits = policy.limits if self.overrides is None else await self._limits(policy)
            decision = await self.store.hit(full_key, limits, policy.algorithm, policy.cost)
        except Exception as exc:
            self._outage(policy, route, exc)
            return None
        outcome = "allowed" if decision.allowed else "limited"
        self._count(policy, route, outcome)
        if not decision.allowed and self.on_limit is not None:
            await self._notify(LimitHit(policy.name, full_key, route, decision))
        return decision

    def _count(self, policy: Policy, route: str, outcome: str) -> None:
        labels = (policy.name, route, policy.key.kind, outcome)
        counter = self._counters.get(labels)
        if counter is None:  # labels() looks the child up by hashing: do it once
            counter = self._counters[labels] = self._decisions.labels(*labels)
        counter.inc()

    def _outage(self, policy: Policy, route: str, exc: Exception) -> None:
        outcome = "failed_open" if policy.fail_mode == "open" else "failed_closed"
        self._count(policy, route, outcome)
        now = time.monotonic()
        if now - self._last_outage_log.get(policy.name, -math.inf) >= self.outage_log_interval:
            self._last_outage_log[policy.name] = now
            log.error(
                "ratelimit.store_unavailable",
                policy=policy.name,
                fail_mode=policy.fail_mode,
                error=f"{type(exc).__name__}: {exc}",
            )
        if policy.fail_mode == "closed":
            raise RateLimitUnavailable(
                "Rate limiting is unavailable; try again shortly.", headers={"Retry-After": "1"}
            ) from exc

    async def _limits(self, policy: Policy) -> Sequence[Limit]:
        tenant = tenant_id_var.get()
        if self.overrides is None or tenant is None:
            return policy.limits
        cache_key = (policy.name, tenant)
        cached = self._override_cache.get(cache_key)
        now = time.monotonic()
        if cached is None or cached[0] <= now:
            cached = (now + self.override_ttl, await self.overrides(policy.name, tenant))
            self._override_cache[cache_key] = cached
        return cached[1] or policy.limits

    async def _notify(self, hit: LimitHit) -> None:
        assert self.on_limit is not None
        try:
            result = self.on_limit(hit)
            if inspect.isawaitable(result):
                await result
        except Exception:
            # The refusal stands either way; a broken hook must not turn it into a 500.
            log.exception("ratelimit.on_limit_failed", policy=hit.policy, key=hit.key)
