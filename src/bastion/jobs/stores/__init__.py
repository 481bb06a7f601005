"""The job store backends."""

from bastion.jobs.stores.memory import MemoryJobStore
from bastion.jobs.stores.redis import RedisJobStore
from bastion.jobs.stores.sql import SqlJobStore

__all__ = ["MemoryJobStore", "RedisJobStore", "SqlJobStore"]
