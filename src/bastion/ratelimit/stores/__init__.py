"""Rate limit stores: in-memory (one process) and Redis (shared, atomic Lua)."""

from bastion.ratelimit.stores.memory import MemoryRateLimitStore
from bastion.ratelimit.stores.redis import RedisRateLimitStore

__all__ = ["MemoryRateLimitStore", "RedisRateLimitStore"]
