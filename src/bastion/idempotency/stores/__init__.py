"""Idempotency stores: memory (one process), SQL (a unique key decides), Redis (a script)."""

from bastion.idempotency.stores.memory import MemoryIdempotencyStore
from bastion.idempotency.stores.redis import RedisIdempotencyStore
from bastion.idempotency.stores.sql import SqlIdempotencyStore

__all__ = ["MemoryIdempotencyStore", "RedisIdempotencyStore", "SqlIdempotencyStore"]
