"""Timestamped HMAC-SHA256 signatures for values that travel through clients
(signed cookies, links in emails).

``signed = value.timestamp.signature``: the value stays readable, so never sign a
secret; sign what must not be altered. The first secret key signs, all verify,
so the app's secret can be rotated without invalidating what is out there. The
``salt`` separates uses: a value signed for one purpose does not verify for
another.

>>> signer = Signer(["a-long-random-secret-key-of-at-least-32-chars"], salt="unsubscribe")
>>> signer.unsign(signer.sign("user:42"), max_age=3600)
'user:42'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from bastion.core.clock import Clock, SystemClock
from bastion.security.crypto import b64decode, b64encode, derive_key
from bastion.security.errors import BadSignature, SignatureExpired

__all__ = ["Signer"]


class Signer:
    """Signs with the first of ``secret_keys``; verifies with any of them."""

    def __init__(
        self, secret_keys: Sequence[str], salt: str, *, clock: Clock | None = None
    ) -> None:
        if not secret_keys:
            raise ValueError("Signer needs at least one secret key")
        self._keys = [derive_key(secret, f"signer:{salt}") for secret in secret_keys]
        self._clock = clock or SystemClock()

    def sign(self, value: str) -> str:
        seconds = int(self._clock.now().timestamp())
        payload = f"{value}.{b64encode(seconds.to_bytes(8, 'big'))}"
        return f"{payload}.{self._signature(self._keys[0], payload).decode()}"

    def unsign(self, signed: str, max_age: float | None = None) -> str:
        """The value of ``signed``: :class:`BadSignature` if it was altered or signed
        with another key or salt, :class:`SignatureExpired` if older than ``max_age`` s."""
        payload, _, signature = signed.rpartition(".")
        value, dot, stamp = payload.rpartition(".")
        if not dot:
            raise BadSignature("The value is not signed.")
        given = signature.encode()
        if not any(hmac.compare_digest(self._signature(key, payload), given) for key in self._keys):
            raise BadSignature("The signature does not match.")
        if max_age is not None:
            age = self._clock.now().timestamp() - int.from_bytes(b64decode(stamp), "big")
            if age > max_age:
                raise SignatureExpired(f"The signature is {int(age)} s old; at most {max_age} s.")
        return value

    @staticmethod
    def _signature(key: bytes, payload: str) -> bytes:
        return b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()).encode()
