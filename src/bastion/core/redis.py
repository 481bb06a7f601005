"""The optional Redis connection pool (extra ``bastion[redis]``) and script batching."""

from __future__ import annotations

import asyncio
import hashlib
import math
from typing import TYPE_CHECKING, Any

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


MAX_IN_FLIGHT = 2
_Call = tuple[str, list[str], list[Any], "asyncio.Future[Any]"]


def _pack(connection: Any, commands: list[tuple[Any, ...]]) -> bytes | list[bytes]:
    try:
        import hiredis
    except ImportError:  # pragma: no cover - hiredis comes with bastion[redis]
        packed: list[bytes] = connection.pack_commands(commands)
        return packed
    return b"".join(hiredis.pack_command(command) for command in commands)


class ScriptBatcher:
    """Runs Lua scripts, sending the calls made in one event-loop turn as one pipeline.

    Under concurrency most of a call's cost is the client's per-command overhead
    and the round trip; N concurrent calls share both here. Each script still
    runs atomically on the server — a pipeline only batches the network.

    The Redis I/O happens in a task of its own, so a caller that stops waiting
    (a timeout) never cancels a command half-sent: the connection stays in sync
    and the script's effect is complete either way.

    Scripts are called by SHA; after a ``NOSCRIPT`` (a restarted or flushed
    Redis) they are loaded again and the affected calls retried.
    """

    def __init__(
        self, redis: Redis, scripts: dict[str, str], *, round_trip_timeout: float = 5.0
    ) -> None:
        self.redis = redis
        self.round_trip_timeout = round_trip_timeout
        self.bodies = scripts
        # Redis names a script by the SHA-1 of its body; not a security use.
        self.shas = {
            name: hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()
            for name, body in scripts.items()
        }
        self._pending: list[_Call] = []
        self._senders: set[asyncio.Task[None]] = set()
        self._scheduled = False
        # Taken from the pool once and kept: one per batch in flight.
        self._idle_connections: list[Any] = []

    def call(self, name: str, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Queue script ``name``; the future holds its reply (or its error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((name, keys, args, future))
        self._schedule(loop)
        return future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        # At most MAX_IN_FLIGHT batches travel at once; calls made meanwhile form the
        # next one, so batches grow with the load. Two overlap Redis's work on one
        # batch with the app's work on the previous.
        if self._pending and len(self._senders) < MAX_IN_FLIGHT and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # collect whatever else this turn submits

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        sender = asyncio.get_running_loop().create_task(self._send(batch))
        self._senders.add(sender)
        sender.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._senders.discard(task)
        self._schedule(task.get_loop())

    async def _round_trip(self, batch: list[_Call]) -> list[Any]:
        """Write every call at once on the batcher's connection, then read every reply.

        This is what a pipeline does, minus redis-py's per-command bookkeeping,
        which costs more than the script on the server.
        """
        from redis.exceptions import ResponseError

        commands = [
            ("EVALSHA", self.shas[name], len(keys), *keys, *args) for name, keys, args, _ in batch
        ]
        # One deadline for the batch (connecting included) instead of one per reply.
        async with asyncio.timeout(self.round_trip_timeout):
            if self._idle_connections:
                connection = self._idle_connections.pop()
            else:
                pool = self.redis.connection_pool
                connection = await pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                await connection.send_packed_command(_pack(connection, commands))
                replies: list[Any] = []
                for _ in batch:
                    try:
                        replies.append(await connection.read_response(timeout=math.inf))
                    except ResponseError as error:  # a whole reply: the stream stays in sync
                        replies.append(error)
                self._idle_connections.append(connection)
                return replies
            except BaseException:
                # Replies may still be on the way: drop the socket; the next batch reconnects.
                await connection.disconnect(nowait=True)
                self._idle_connections.append(connection)
                raise

    async def _send(self, batch: list[_Call]) -> None:
        from redis.exceptions import NoScriptError

        try:
            replies = await self._round_trip(batch)
            if any(isinstance(reply, NoScriptError) for reply in replies):
                for body in self.bodies.values():
                    await self.redis.script_load(body)
                again = [
                    call
                    for call, reply in zip(batch, replies, strict=True)
                    if isinstance(reply, NoScriptError)
                ]
                retried = iter(await self._round_trip(again))
                replies = [
                    next(retried) if isinstance(reply, NoScriptError) else reply
                    for reply in replies
                ]
        except Exception as exc:
            replies = [exc] * len(batch)
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the caller gave up waiting
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
