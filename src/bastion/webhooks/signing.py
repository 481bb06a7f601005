"""Standard Webhooks signatures: keys, signing outgoing messages, verifying incoming ones.

Two schemes, told apart by the key's prefix. ``v1`` (symmetric): a secret is
``whsec_`` + base64 of random bytes, the signature ``v1,`` +
base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")). ``v1a`` (asymmetric): the
sender keeps ``whsk_`` + base64 of an Ed25519 private key, receivers hold
``whpk_`` + base64 of its public key, the signature is ``v1a,`` + base64 of the
Ed25519 signature of the same string. A header may carry several signatures,
space-separated (during a key rotation).

>>> secret = new_secret(32)
>>> headers = signed_headers("msg_1", 1700000000, b'{"a":1}', [secret])
>>> verify_standard(headers, b'{"a":1}', [secret], now=1700000010)
'msg_1'
>>> key = new_signing_key()
>>> headers = signed_headers("msg_2", 1700000000, b"{}", [key])
>>> headers["webhook-signature"].startswith("v1a,")
True
>>> verify_standard(headers, b"{}", [public_key(key)], now=1700000010)
'msg_2'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from cryptography.exceptions import InvalidSignature as BadEd25519Signature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion.webhooks.errors import InvalidSignature, TimestampOutOfTolerance

PREFIX = "whsec_"
SIGNING_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"
Scheme = Literal["v1", "v1a"]
# A sender lists a few signatures (two during a rotation); past this many, the rest
# of a header is ignored, which bounds the work a forged header can cause.
MAX_SIGNATURES = 16


def _decode(encoded: str, what: str) -> bytes:
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{what} is not valid base64") from exc


def new_secret(size: int = 32) -> str:
    """A fresh ``whsec_`` secret of ``size`` random bytes (24 to 64)."""
    if not 24 <= size <= 64:
        raise ValueError("a webhook secret has 24 to 64 random bytes")
    return PREFIX + base64.b64encode(random.token_bytes(size)).decode()


def new_signing_key() -> str:
    """A fresh ``whsk_`` Ed25519 private key (``v1a`` signatures)."""
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    return SIGNING_KEY_PREFIX + base64.b64encode(raw).decode()


def new_key(scheme: Scheme, size: int = 32) -> str:
    """A fresh key of ``scheme``: a ``whsec_`` secret of ``size`` bytes, or a ``whsk_`` key."""
    return new_signing_key() if scheme == "v1a" else new_secret(size)


def scheme_of(key: str) -> Scheme:
    """``v1a`` for a ``whsk_`` or ``whpk_`` key, ``v1`` for a secret."""
    return "v1a" if key.startswith((SIGNING_KEY_PREFIX, PUBLIC_KEY_PREFIX)) else "v1"


def _private_key(key: str) -> Ed25519PrivateKey:
    raw = _decode(key.removeprefix(SIGNING_KEY_PREFIX), "a whsk_ key")
    if len(raw) != 32:
        raise ValueError("a whsk_ key is the base64 of a 32-byte Ed25519 private key")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key(key: str) -> str:
    """The ``whpk_`` public key of a ``whsk_`` key: what receivers verify with."""
    raw = _private_key(key).public_key().public_bytes_raw()
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def shareable(key: str) -> str:
    """What a receiver is given: a secret itself, or the public key of a ``whsk_`` key."""
    return public_key(key) if key.startswith(SIGNING_KEY_PREFIX) else key


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; :class:`ValueError` when it is not one."""
    key = _decode(secret.removeprefix(PREFIX), "a webhook secret (whsec_ + base64)")
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def verifying_key(key: str) -> bytes | Ed25519PublicKey:
    """What checks signatures made with ``key``: the HMAC key of a secret, or the
    Ed25519 public key of a ``whpk_`` (or ``whsk_``) key. :class:`ValueError` when
    ``key`` is malformed."""
    if key.startswith(SIGNING_KEY_PREFIX):
        return _private_key(key).public_key()
    if key.startswith(PUBLIC_KEY_PREFIX):
        raw = _decode(key.removeprefix(PUBLIC_KEY_PREFIX), "a whpk_ key")
        if len(raw) != 32:
            raise ValueError("a whpk_ key is the base64 of a 32-byte Ed25519 public key")
        return Ed25519PublicKey.from_public_bytes(raw)
    return secret_key(key)


def _signed(message_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def signature(key: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1a,...`` with a ``whsk_`` key, ``v1,...`` with a ``whsec_`` secret."""
    signed = _signed(message_id, timestamp, body)
    if key.startswith(SIGNING_KEY_PREFIX):
        return "v1a," + base64.b64encode(_private_key(key).sign(signed)).decode()
    digest = hmac.new(secret_key(key), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The ``webhook-*`` headers of a message, signed with each of ``secrets``
    (``whsec_`` secrets and ``whsk_`` keys alike)."""
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


def _ed25519_verifies(key: Ed25519PublicKey, given: Iterable[bytes], signed: bytes) -> bool:
    for candidate in given:
        try:
            key.verify(candidate, signed)
        except BadEd25519Signature:
            continue
        return True
    return False


def _signatures(header: str) -> dict[str, list[bytes]]:
    """The decodable signatures of a ``webhook-signature`` header, by version."""
    found: dict[str, list[bytes]] = {"v1": [], "v1a": []}
    for part in header.split()[:MAX_SIGNATURES]:
        version, _, value = part.partition(",")
        if version in found:
            try:
                found[version].append(base64.b64decode(value, validate=True))
            except binascii.Error:
                continue
    return found


def verify_standard(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: float = 300.0,
) -> str:
    """Check a Standard Webhooks request against ``whsec_`` secrets (``v1``) and
    ``whpk_`` public keys (``v1a``); returns its message id."""
    h = lower(headers)
    message_id, raw_time, header = (
        h.get("webhook-id"),
        h.get("webhook-timestamp"),
        h.get("webhook-signature"),
    )
    if not (message_id and raw_time and header):
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are required.")
    timestamp = check_timestamp(raw_time, now, tolerance)
    signed = _signed(message_id, timestamp, body)
    given = _signatures(header)
    digests, public_keys = [], []
    for secret in secrets:
        key = verifying_key(secret)
        if isinstance(key, bytes):
            digests.append(hmac.new(key, signed, hashlib.sha256).digest())
        else:
            public_keys.append(key)
    found = any_matches(digests, given["v1"])
    found |= any(_ed25519_verifies(key, given["v1a"], signed) for key in public_keys)
    if not found:
        raise InvalidSignature("No webhook signature matches.")
    return message_id
