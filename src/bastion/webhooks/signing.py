"""Standard Webhooks signatures: secrets, signing outgoing messages, verifying incoming ones.

A secret is ``whsec_`` + base64 of random bytes. The signature of a message is
``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")); a header may
carry several, space-separated (during a secret rotation).

>>> secret = new_secret(32)
>>> headers = signed_headers("msg_1", 1700000000, b'{"a":1}', [secret])
>>> verify_standard(headers, b'{"a":1}', [secret], now=1700000010)
'msg_1'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random
from collections.abc import Iterable, Mapping, Sequence

from bastion.webhooks.errors import InvalidSignature, TimestampOutOfTolerance

PREFIX = "whsec_"


def new_secret(size: int = 32) -> str:
    """A fresh ``whsec_`` secret of ``size`` random bytes (24 to 64)."""
    if not 24 <= size <= 64:
        raise ValueError("a webhook secret has 24 to 64 random bytes")
    return PREFIX + base64.b64encode(random.token_bytes(size)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; :class:`ValueError` when it is not one."""
    encoded = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The ``webhook-*`` headers of a message, signed with each of ``secrets``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }


def lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def check_timestamp(raw: str, now: float, tolerance: float) -> int:
    try:
        timestamp = int(raw)
    except ValueError:
        raise InvalidSignature("The webhook timestamp is not a number.") from None
    if abs(now - timestamp) > tolerance:
        raise TimestampOutOfTolerance(
            f"The webhook timestamp is more than {tolerance:.0f} s away from now."
        )
    return timestamp


def any_matches(expected: Iterable[bytes], given: Iterable[bytes]) -> bool:
    """Whether one of ``given`` equals one of ``expected``, compared in constant time."""
    found = False
    wanted = list(expected)
    for candidate in given:
        for digest in wanted:
            found |= hmac.compare_digest(digest, candidate)
    return found


def verify_standard(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: float = 300.0,
) -> str:
    """Check a Standard Webhooks request; returns its message id."""
    h = lower(headers)
    message_id, raw_time, header = (
        h.get("webhook-id"),
        h.get("webhook-timestamp"),
        h.get("webhook-signature"),
    )
    if not (message_id and raw_time and header):
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are required.")
    timestamp = check_timestamp(raw_time, now, tolerance)
    given = []
    for part in header.split():
        version, _, value = part.partition(",")
        if version == "v1":
            try:
                given.append(base64.b64decode(value, validate=True))
            except ValueError:
                continue
    expected = [base64.b64decode(signature(s, message_id, timestamp, body)[3:]) for s in secrets]
    if not any_matches(expected, given):
        raise InvalidSignature("No webhook signature matches.")
    return message_id
