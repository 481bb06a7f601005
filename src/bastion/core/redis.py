"""The optional Redis connection pool (extra ``bastion[redis]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.core.errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis


def open_redis(url: str) -> Redis:
    """A client over a lazily-filled pool; nothing connects until the first command."""
    try:
        from redis.asyncio import Redis
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "BASTION_REDIS_URL is set but the redis client is missing; install bastion[redis]."
        ) from exc
    return Redis.from_url(url, health_check_interval=30, socket_connect_timeout=5)
