"""One POST of a webhook: sign, send, and classify what came back.

No database here: :mod:`bastion.webhooks.delivery` decides what an outcome
means for the delivery and the endpoint.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bastion.core.http import HttpClient, UpstreamError, UpstreamTimeout
from bastion.ops.breaker import CircuitBreaker
from bastion.webhooks.errors import TargetRefused
from bastion.webhooks.signing import signed_headers
from bastion.webhooks.ssrf import TargetPolicy, refused_cause


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: ``status_code`` is ``None`` when nothing was answered."""

    started_at: datetime
    succeeded: bool
    status_code: int | None
    duration_ms: float
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None

    @property
    def gone(self) -> bool:
        return self.status_code == 410


class _Refused(Exception):
    """A non-2xx answer, raised inside the breaker so that it counts as a failure."""


async def post(
    client: HttpClient,
    policy: TargetPolicy,
    breaker: CircuitBreaker,
    *,
    url: str,
    message_id: str,
    body: bytes,
    secrets: list[str],
    timestamp: int,
    excerpt_bytes: int,
    now: datetime,
) -> Outcome:
    """Send one signed POST at ``now``; every failure becomes an :class:`Outcome`,
    never raises."""
    started = time.perf_counter()

    def outcome(status: int | None, error: str | None, **more: Any) -> Outcome:
        took = round((time.perf_counter() - started) * 1000, 3)
        return Outcome(now, error is None, status, took, error, **more)

    headers = signed_headers(message_id, timestamp, body, secrets)
    try:
        policy.check_url(url)
        async with breaker:
            response = await client.post(url, data=body, headers=headers, retries=0)
            if not 200 <= response.status < 300:
                raise _Refused
    except _Refused:
        return outcome(
            response.status,
            f"HTTP {response.status}",
            response=response.body[:excerpt_bytes].decode("utf-8", errors="replace"),
            retry_after=retry_after(response.headers.get("Retry-After"), now),
        )
    except TargetRefused as exc:
        return outcome(None, f"refused: {exc.detail}")
    except UpstreamTimeout:
        return outcome(None, "timeout")
    except UpstreamError as exc:
        refused = refused_cause(exc)
        return outcome(None, f"refused: {refused}" if refused is not None else str(exc))
    except Exception as exc:  # CircuitOpen, and anything else: an attempt that failed
        return outcome(None, f"{type(exc).__name__}: {exc}")
    excerpt = response.body[:excerpt_bytes].decode("utf-8", errors="replace")
    return outcome(response.status, None, response=excerpt)


def retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now`` (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


class Pacer:
    """Spaces the attempts to each endpoint ``1 / rate`` seconds apart (in this process)."""

    def __init__(
        self,
        rate: float,
        max_endpoints: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / rate
        self.max_endpoints = max_endpoints
        self.monotonic = monotonic
        self.slots: dict[uuid.UUID, float] = {}

    def reserve(self, endpoint_id: uuid.UUID, longest: float) -> float:
        """Seconds until this endpoint's next free slot. The slot is taken only when it
        is at most ``longest`` away: the caller then waits and sends; otherwise it
        tries again after that long, holding no slot (so deferring pushes no one back)."""
        now = self.monotonic()
        if len(self.slots) >= self.max_endpoints:
            self.slots = {k: v for k, v in self.slots.items() if v > now}
        slot = max(now, self.slots.get(endpoint_id, 0.0))
        if slot - now <= longest:
            self.slots[endpoint_id] = slot + self.interval
        return slot - now
