"""The optional Redis connection pool (extra ``bastion[redis]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.core.errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis


def open_redis(url: str, *, max_connections: int = 50, pool_timeout: float = 5.0) -> Redis:
    """A client over a lazily-filled pool; nothing connects until the first command.

    The pool is bounded and blocking: past ``max_connections`` a command waits
    up to ``pool_timeout`` seconds for a free connection instead of failing.
    """
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "BASTION_REDIS_URL is set but the redis client is missing; install bastion[redis]."
        ) from exc
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        health_check_interval=30,
        socket_connect_timeout=5,
    )
    return Redis(connection_pool=pool)
