"""The framework's one outbound HTTP client, over one ``aiohttp.ClientSession`` per process.

Breach checks, webhooks, billing and messaging all call out through
:class:`HttpClient`. Each attempt has a timeout; idempotent requests are retried
with jittered exponential backoff on connection errors and on 502, 503 and 504
(never on a timeout: the server may still be working on it). Redirects are not
followed. An optional ``guard(host)`` wraps every attempt: the ops layer plugs a
circuit breaker per host into it, which counts 5xx answers as failures.

Transport failures become Bastion errors, the aiohttp error chained::

    UpstreamError
    ├── UpstreamUnavailable       502 upstream.unavailable (connection refused, reset, DNS)
    ├── UpstreamTimeout           504 upstream.timeout
    └── UpstreamResponseTooLarge  502 upstream.response_too_large
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiohttp.abc
from yarl import URL

from bastion.core.errors import BastionError
from bastion.core.settings import HttpClientSettings

__all__ = [
    "Guard",
    "HttpClient",
    "HttpResponse",
    "UpstreamError",
    "UpstreamResponseTooLarge",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]

Guard = Callable[[str], AbstractAsyncContextManager[object]]
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))
RETRY_STATUSES = frozenset((502, 503, 504))
MAX_BACKOFF_SECONDS = 5.0
CHUNK_BYTES = 65_536


class UpstreamError(BastionError):
    """Root of the outbound client's errors."""


class UpstreamUnavailable(UpstreamError):
    code = "upstream.unavailable"
    status = 502
    title = "Upstream service unavailable"


class UpstreamTimeout(UpstreamError):
    code = "upstream.timeout"
    status = 504
    title = "Upstream service timed out"


class UpstreamResponseTooLarge(UpstreamError):
    code = "upstream.response_too_large"
    status = 502
    title = "Upstream response too large"


@dataclass(frozen=True)
class HttpResponse:
    """A response read in full. ``headers`` are case-insensitive."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def text(self) -> str:
        charset = "utf-8"
        for param in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        return self.body.decode(charset, errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class _ServerError(Exception):
    """A 5xx answer, raised inside the guard so that it counts as a failure there."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class HttpClient:
    """Outbound HTTP with timeouts, retries and a per-host guard.

    The session is opened on the first request and closed by :meth:`close`
    (``create_app`` does that at shutdown).
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        max_connections: int = 100,
        max_response_bytes: int = 10_485_760,
        guard: Guard | None = None,
        user_agent: str = "bastion",
        connect_timeout: float | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_response_bytes = max_response_bytes
        self._max_connections = max_connections
        self._guard = guard
        # ``resolver`` sees every host name before a connection (webhooks' SSRF check).
        self._resolver = resolver
        self.connect_timeout = connect_timeout
        self._headers = {"User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls, settings: HttpClientSettings, *, guard: Guard | None = None
    ) -> HttpClient:
        return cls(
            timeout=settings.timeout_seconds,
            retries=settings.retries,
            backoff=settings.backoff_seconds,
            max_connections=settings.max_connections,
            max_response_bytes=settings.max_response_bytes,
            guard=guard,
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def get(self, url: str, **options: Any) -> HttpResponse:
        return await self.request("GET", url, **options)

    async def post(self, url: str, **options: Any) -> HttpResponse:
        return await self.request("POST", url, **options)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - each attempt's aiohttp timeout
        retries: int | None = None,
    ) -> HttpResponse:
        """Send a request and read its response; a 4xx or 5xx is returned, not raised.

        ``timeout`` (seconds) bounds each attempt, reading the body included.
        """
        method = method.upper()
        attempts = 1 + (self.retries if retries is None else retries)
        if method not in IDEMPOTENT_METHODS:
            attempts = 1
        options = {
            "headers": headers,
            "params": params,
            "json": json,
            "data": data,
            "timeout": aiohttp.ClientTimeout(
                total=timeout or self.timeout, connect=self.connect_timeout
            ),
        }
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._attempt(method, url, options)
            except UpstreamUnavailable:
                if last:
                    raise
            else:
                if last or response.status not in RETRY_STATUSES:
                    return response
            await asyncio.sleep(self._delay(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, attempt: int) -> float:
        ceiling = min(MAX_BACKOFF_SECONDS, self.backoff * 2.0**attempt)
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    async def _attempt(self, method: str, url: str, options: dict[str, Any]) -> HttpResponse:
        try:
            if self._guard is None:
                return await self._send(method, url, options)
            try:
                async with self._guard(URL(url).host or ""):
                    response = await self._send(method, url, options)
                    if response.status >= 500:
                        raise _ServerError(response)
                    return response
            except _ServerError as answer:
                return answer.response
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{method} {_safe(url)} timed out.") from exc
        except aiohttp.ClientConnectionError as exc:
            raise UpstreamUnavailable(f"{method} {_safe(url)} failed: {exc}") from exc

    async def _send(self, method: str, url: str, options: dict[str, Any]) -> HttpResponse:
        session = self._open()
        async with session.request(method, url, allow_redirects=False, **options) as answer:
            limit = self.max_response_bytes
            if answer.content_length is not None and answer.content_length > limit:
                raise UpstreamResponseTooLarge(f"{_safe(url)} sent more than {limit} bytes.")
            body = bytearray()
            async for chunk in answer.content.iter_chunked(CHUNK_BYTES):
                body += chunk
                if len(body) > limit:
                    raise UpstreamResponseTooLarge(f"{_safe(url)} sent more than {limit} bytes.")
            return HttpResponse(answer.status, answer.headers, bytes(body), str(answer.url))

    def _open(self) -> aiohttp.ClientSession:
        # Made inside the running loop, on first use; nothing awaits in between.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ttl_dns_cache=300, resolver=self._resolver
            )
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)
        return self._session


def _safe(url: str) -> str:
    """The URL without credentials or query string, for messages and logs."""
    parsed = URL(url)
    return str(parsed.with_user(None).with_query(None).with_fragment(None))
