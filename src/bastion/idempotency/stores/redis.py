"""The Redis store: each step is one Lua script, so it is atomic on the server.

A key is a hash ``<prefix>idem:<key>``. While running it has a TTL equal to the
lease (the ``SET NX PX`` pattern, with the fingerprint check in the same step);
once done, the TTL of the record. Redis expires records itself: ``purge`` has
nothing to do.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.idempotency.store import IN_PROGRESS, MISMATCH, Claim, StoredResponse

if TYPE_CHECKING:
    from redis.asyncio import Redis

_HERE = Path(__file__).parent


def _script(redis: Redis, name: str) -> Any:
    return redis.register_script((_HERE / f"{name}.lua").read_text())


class RedisIdempotencyStore:
    def __init__(self, redis: Redis, *, prefix: str = "bastion:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._begin = _script(redis, "begin")
        self._complete = _script(redis, "complete")
        self._release = _script(redis, "release")

    def _key(self, key: str) -> str:
        return f"{self.prefix}idem:{key}"

    async def begin(self, key: str, fingerprint: str, *, lease: float, ttl: float) -> Claim:
        token = secrets.token_hex(16)
        reply = await self._begin(
            keys=[self._key(key)], args=[fingerprint, token, max(1, int(lease * 1000))]
        )
        state = reply[0].decode()
        if state == "started":
            return Claim("started", token)
        if state == "mismatch":
            return MISMATCH
        if state == "in_progress":
            return IN_PROGRESS
        headers = tuple((str(n), str(v)) for n, v in json.loads(reply[2]))
        return Claim("replay", response=StoredResponse(int(reply[1]), headers, bytes(reply[3])))

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> bool:
        headers = json.dumps([list(pair) for pair in response.headers])
        args = [token, response.status, headers, response.body, max(1, int(ttl * 1000))]
        return bool(await self._complete(keys=[self._key(key)], args=args))

    async def release(self, key: str, token: str) -> bool:
        return bool(await self._release(keys=[self._key(key)], args=[token]))

    async def purge(self) -> int:
        return 0
