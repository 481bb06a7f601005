"""Rate limiting: GCRA and sliding-window limits, in memory or atomically on Redis.

>>> from fastapi import APIRouter, Depends
>>> from bastion.ratelimit import RateLimit, by_user
>>> router = APIRouter()
>>> @router.get("/search", dependencies=[Depends(RateLimit("10/second;burst=20, 1000/hour"))])
... async def search() -> list[str]:
...     return []
"""

from bastion.ratelimit.deps import RateLimit, auth_rate_limit, rate_limiter
from bastion.ratelimit.errors import RateLimitError, RateLimitExceeded, RateLimitUnavailable
from bastion.ratelimit.keys import Key, by, by_api_key, by_ip, by_tenant, by_user
from bastion.ratelimit.limits import Limit, parse_limit, parse_limits
from bastion.ratelimit.policy import Policy
from bastion.ratelimit.service import LimitHit, RateLimiter
from bastion.ratelimit.settings import RateLimitSettings
from bastion.ratelimit.store import Decision, LimitState, RateLimitStore
from bastion.ratelimit.stores import MemoryRateLimitStore, RedisRateLimitStore

__all__ = [
    "Decision",
    "Key",
    "Limit",
    "LimitHit",
    "LimitState",
    "MemoryRateLimitStore",
    "Policy",
    "RateLimit",
    "RateLimitError",
    "RateLimitExceeded",
    "RateLimitSettings",
    "RateLimitStore",
    "RateLimitUnavailable",
    "RateLimiter",
    "RedisRateLimitStore",
    "auth_rate_limit",
    "by",
    "by_api_key",
    "by_ip",
    "by_tenant",
    "by_user",
    "parse_limit",
    "parse_limits",
    "rate_limiter",
]
