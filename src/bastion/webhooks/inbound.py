"""Receiving webhooks: check the signature, drop duplicates through the inbox.

Three styles: Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; ``v1`` signatures checked with ``whsec_`` secrets, ``v1a``
with ``whpk_`` public keys), Stripe (``Stripe-Signature: t=...,v1=<hex>``, HMAC of
``"{t}.{body}"``) and GitHub (``X-Hub-Signature-256: sha256=<hex>``, HMAC of the
body; ``X-GitHub-Delivery`` names the message). Several secrets may be given
(during a rotation); comparisons run in constant time.

>>> from bastion.webhooks.signing import new_secret, signed_headers
>>> import time
>>> secret = new_secret()
>>> now = int(time.time())
>>> verify_webhook(signed_headers("msg_1", now, b"{}", [secret]), b"{}", [secret])
'msg_1'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.outbox.inbox import process_once
from bastion.webhooks.errors import InvalidSignature
from bastion.webhooks.signing import (
    any_matches,
    check_timestamp,
    lower,
    verify_standard,
    verifying_key,
)

Style = Literal["standard", "stripe", "github"]


def _hex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def verify_stripe(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: float, tolerance: float
) -> str:
    header = lower(headers).get("stripe-signature", "")
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in parts if key.strip() == "t"]
    given = [_hex(value) for key, _, value in parts if key.strip() == "v1"]
    if not stamps or not given:
        raise InvalidSignature("Stripe-Signature needs t= and v1= parts.")
    timestamp = check_timestamp(stamps[0], now, tolerance)
    signed = f"{timestamp}.".encode() + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).digest() for s in secrets]
    if not any_matches(expected, given):
        raise InvalidSignature("No Stripe signature matches.")
    try:
        return str(json.loads(body)["id"])
    except (ValueError, KeyError, TypeError):
        raise InvalidSignature("A Stripe event body is a JSON object with an id.") from None


def verify_github(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> str:
    h = lower(headers)
    scheme, _, value = h.get("x-hub-signature-256", "").partition("=")
    delivery = h.get("x-github-delivery", "")
    if scheme != "sha256" or not delivery:
        raise InvalidSignature("X-Hub-Signature-256 (sha256=...) and X-GitHub-Delivery needed.")
    expected = [hmac.new(s.encode(), body, hashlib.sha256).digest() for s in secrets]
    if not any_matches(expected, [_hex(value)]):
        raise InvalidSignature("No GitHub signature matches.")
    return delivery


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    style: Style = "standard",
    tolerance: float = 300.0,
    now: float | None = None,
) -> str:
    """Check an incoming webhook's signature; returns the message id. In the standard
    style, ``secrets`` may mix ``whsec_`` secrets and ``whpk_`` public keys.

    Raises :class:`~bastion.webhooks.InvalidSignature` (401
    ``webhook.invalid_signature``) or
    :class:`~bastion.webhooks.TimestampOutOfTolerance` (401
    ``webhook.timestamp_out_of_tolerance``; GitHub signs no timestamp).
    """
    moment = time.time() if now is None else now
    if style == "standard":
        return verify_standard(headers, body, secrets, now=moment, tolerance=tolerance)
    if style == "stripe":
        return verify_stripe(headers, body, secrets, now=moment, tolerance=tolerance)
    return verify_github(headers, body, secrets)


@dataclass(frozen=True)
class InboundWebhook:
    """A verified incoming webhook."""

    source: str
    id: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    async def once(self, session: AsyncSession, handler: Callable[[], Awaitable[Any]]) -> bool:
        """Run ``handler`` unless this message was processed already (the inbox);
        ``True`` if it ran. Commits with ``session``'s transaction."""
        return await process_once(session, self.source, self.id, handler)


class WebhookReceiver:
    """A FastAPI dependency that verifies incoming webhooks of one ``source``.

    >>> from typing import Annotated
    >>> from fastapi import APIRouter, Depends
    >>> from bastion import DbSession
    >>> receiver = WebhookReceiver("billing", secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    >>> router = APIRouter()
    >>> @router.post("/hooks/billing")
    ... async def billing(
    ...     hook: Annotated[InboundWebhook, Depends(receiver)], session: DbSession
    ... ) -> dict[str, bool]:
    ...     async def apply() -> None: ...
    ...     return {"processed": await hook.once(session, apply)}
    """

    def __init__(
        self,
        source: str,
        *,
        secrets: Sequence[str],
        style: Style = "standard",
        tolerance: float = 300.0,
    ) -> None:
        if not secrets:
            raise ValueError("a webhook receiver needs at least one secret")
        if style == "standard":
            for secret in secrets:
                verifying_key(secret)  # a malformed key fails here, not at the first request
        self.source = source
        self.secrets = list(secrets)
        self.style: Style = style
        self.tolerance = tolerance

    async def __call__(self, request: Request) -> InboundWebhook:
        body = await request.body()
        message_id = verify_webhook(
            request.headers, body, self.secrets, style=self.style, tolerance=self.tolerance
        )
        return InboundWebhook(self.source, message_id, body)
