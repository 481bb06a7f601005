"""The Redis side of shared circuit breakers: one hash per breaker, changed by Lua scripts.

Key ``<prefix>cb:{<name>}`` holds ``state`` (``open`` or ``half_open``; no key
means closed), ``until`` (when an open breaker may be probed, ms), ``probe``
(the process holding the half-open probe) and ``probe_until`` (its lease, ms).
Every change is one script run, so two processes never both take the probe.
Times come from the callers' clocks; the key is deleted when the breaker closes.

Every reply is the shared state as the caller should see it: a ``Shared`` with
``state`` one of ``closed``, ``open`` (refused until ``until``), ``busy`` (another
process probes until ``until``) or ``probe`` (the caller holds the probe).
When Redis fails the methods return None and the breaker decides alone; the
outage is logged once, and so is the recovery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import structlog

from bastion.core.redis import ScriptBatcher

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BreakerStore", "Shared"]

log = structlog.get_logger("bastion.ops.breaker")
# An open breaker no process closes (all gone) is forgotten after a day.
KEY_TTL_MS = 86_400_000

# The verdict for process ARGV[1] at time ARGV[2] (ms), from the fields f.
_VIEW = """
local function view(f, owner, now)
  if not f[1] then return {'closed', '0'} end
  if f[1] == 'half_open' then
    if f[3] == owner then return {'probe', f[4]} end
    if now < tonumber(f[4]) then return {'busy', f[4]} end
    return {'open', f[4]}
  end
  return {'open', f[2]}
end
local FIELDS = {'state', 'until', 'probe', 'probe_until'}
"""

SCRIPTS = {
    "read": _VIEW
    + """
return view(redis.call('HMGET', KEYS[1], unpack(FIELDS)), ARGV[1], tonumber(ARGV[2]))
""",
    # ARGV[3]: the end of the open period; a later end already set stays.
    "trip": _VIEW
    + """
local f = redis.call('HMGET', KEYS[1], 'state', 'until')
if f[1] ~= 'open' or tonumber(ARGV[3]) > tonumber(f[2]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', ARGV[3])
end
redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return view(redis.call('HMGET', KEYS[1], unpack(FIELDS)), ARGV[1], tonumber(ARGV[2]))
""",
    # ARGV[3]: the end of the probe's lease, should the prober die.
    "claim": _VIEW
    + """
local f = redis.call('HMGET', KEYS[1], unpack(FIELDS))
local seen = view(f, ARGV[1], tonumber(ARGV[2]))
if seen[1] ~= 'open' or tonumber(ARGV[2]) < tonumber(seen[2]) then return seen end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe', ARGV[1], 'probe_until', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'probe', ARGV[3]}
""",
    # Only the process holding the probe closes the breaker.
    "close": _VIEW
    + """
local f = redis.call('HMGET', KEYS[1], unpack(FIELDS))
if f[1] == 'half_open' and f[3] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {'closed', '0'}
end
return view(f, ARGV[1], tonumber(ARGV[2]))
""",
}


class Shared(NamedTuple):
    state: str  # closed, open, busy, probe
    until: float  # seconds, on the callers' clock


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class BreakerStore:
    """Shared breaker states in Redis, for every breaker of a process."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "bastion:",
        timeout: float = 0.05,
        refresh_seconds: float = 1.0,
    ) -> None:
        """``timeout``: longest round trip, in seconds; past it the breaker decides alone.
        ``refresh_seconds``: how long the breakers decide from their cached shared state."""
        self.prefix = prefix
        self.refresh_seconds = refresh_seconds
        self.available = True
        self._scripts = ScriptBatcher(redis, SCRIPTS, round_trip_timeout=timeout)

    def key(self, name: str) -> str:
        # A brace in the name would end the Redis Cluster hash tag early.
        return f"{self.prefix}cb:{{{name.replace('{', '(').replace('}', ')')}}}"

    async def read(self, name: str, owner: str, now: float) -> Shared | None:
        return await self._run("read", name, [owner, _ms(now)])

    async def trip(self, name: str, owner: str, now: float, until: float) -> Shared | None:
        """Open the breaker for every process until ``until``."""
        return await self._run("trip", name, [owner, _ms(now), _ms(until), KEY_TTL_MS])

    async def claim(self, name: str, owner: str, now: float, lease: float) -> Shared | None:
        """Take the half-open probe if the breaker is due one and nobody holds it."""
        return await self._run("claim", name, [owner, _ms(now), _ms(now + lease), KEY_TTL_MS])

    async def close(self, name: str, owner: str, now: float) -> Shared | None:
        """Close the breaker for every process, if ``owner`` holds the probe."""
        return await self._run("close", name, [owner, _ms(now)])

    async def _run(self, script: str, name: str, args: list[Any]) -> Shared | None:
        try:
            state, until = await self._scripts.call(script, [self.key(name)], args)
        except Exception as exc:  # whatever Redis does, the call goes on without it
            if self.available:
                self.available = False
                log.warning("breaker.shared_unavailable", error=f"{type(exc).__name__}: {exc}")
            return None
        if not self.available:
            self.available = True
            log.info("breaker.shared_available")
        return Shared(state.decode(), int(until) / 1000)
