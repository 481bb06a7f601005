"""The rules of ``Idempotency-Key``: scope, fingerprint, claim, store or release.

Plain async code over a store; the HTTP side lives in ``deps.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog

from bastion.core.context import principal_var, tenant_id_var
from bastion.idempotency.errors import KeyInProgress, KeyInvalid, KeyReused
from bastion.idempotency.settings import IdempotencySettings
from bastion.idempotency.store import Claim, IdempotencyStore, StoredResponse

log = structlog.get_logger("bastion.idempotency")
MAX_KEY_LENGTH = 255
StoredHeaders = list[tuple[str, str]]


def principal_scope() -> str:
    """``<tenant>/<principal>`` of the current request (``-`` for none/anonymous)."""
    principal = principal_var.get()
    subject = getattr(principal, "subject", None) if principal is not None else None
    tenant = tenant_id_var.get()
    return f"{tenant if tenant is not None else '-'}/{subject or '-'}"


def fingerprint(method: str, target: str, scope: str, body: bytes) -> str:
    """SHA-256 over the method, the request target (path and query), the
    principal scope and the SHA-256 of the body."""
    digest = hashlib.sha256()
    for part in (method.encode(), target.encode(), scope.encode(), hashlib.sha256(body).digest()):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(raw: str) -> str:
    """The key if usable: 1 to 255 visible ASCII characters (an RFC 8941 string)."""
    if not raw or len(raw) > MAX_KEY_LENGTH:
        raise KeyInvalid(f"Idempotency-Key must have 1 to {MAX_KEY_LENGTH} characters.")
    if not raw.isascii() or not raw.isprintable():
        raise KeyInvalid("Idempotency-Key must be printable ASCII.")
    return raw


@dataclass(frozen=True)
class Started:
    """A claim this request holds until it stores its response or releases it."""

    key: str
    token: str
    ttl: float


class Idempotency:
    """Claims keys and keeps the responses of the requests that ran."""

    def __init__(self, store: IdempotencyStore, settings: IdempotencySettings) -> None:
        self.store = store
        self.settings = settings
        self.methods = frozenset(settings.methods)
        self.stored_headers = frozenset(settings.stored_headers)

    async def begin(self, key: str, fingerprint: str, *, ttl: float | None = None) -> Claim:
        """Claim ``key`` (already scoped); raise for a running key or another request."""
        ttl = ttl or self.settings.ttl_seconds
        claim = await self.store.begin(key, fingerprint, lease=self.settings.lease_seconds, ttl=ttl)
        if claim.state == "in_progress":
            raise KeyInProgress(
                "A request with this Idempotency-Key is still running; retry later.",
                headers={"Retry-After": "1"},
            )
        if claim.state == "mismatch":
            raise KeyReused(
                "This Idempotency-Key was used for another request (method, path or body)."
            )
        return claim

    async def finish(
        self, started: Started, status: int, headers: StoredHeaders, body: bytes | None
    ) -> None:
        """Store the response (a body below 500), else release the key for a retry."""
        if status >= 500 or body is None:
            await self.release(started)
            return
        kept = tuple((n, v) for n, v in headers if n.lower() in self.stored_headers)
        try:
            stored = await self.store.complete(
                started.key, started.token, StoredResponse(status, kept, body), ttl=started.ttl
            )
        except Exception:
            # The route's work is committed: answer it. The key stays claimed until
            # its lease ends; a retry after that runs the route again.
            log.exception("idempotency.store_failed", key=started.key)
            return
        if not stored:
            log.warning("idempotency.lease_lost", key=started.key)

    async def release(self, started: Started) -> None:
        try:
            await self.store.release(started.key, started.token)
        except Exception:
            # The request's own error matters more; the lease frees the key anyway.
            log.exception("idempotency.release_failed", key=started.key)
