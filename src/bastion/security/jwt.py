"""JWT access tokens signed by a ring of keys, so that keys can roll.

A :class:`KeyRing` holds the active keys (Ed25519 ``EdDSA`` or HMAC ``HS256``).
The newest *published* key signs; every key verifies. A key counts as published
``publish_delay`` seconds after it was made (the key ring reload interval), by
when every process has loaded it and will accept its tokens. Verification
trusts nothing from the token before the signature is checked except the
``kid``, and accepts for that kid only the algorithm recorded with the key: no
``alg: none``, no HS256 token verified with an EdDSA public key. Every refusal
is the same :class:`~bastion.security.errors.InvalidToken`; the reason is only
logged (``auth.token_rejected``, at debug level).

>>> from datetime import UTC, datetime
>>> key = RingKey.generate("EdDSA", kid="k1", created_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> ring = KeyRing([key])
>>> token = ring.sign({"sub": "42", "aud": "api", "iss": "bastion", "exp": 4102444800})
>>> ring.verify(token, audience="api", issuer="bastion")["sub"]
'42'
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bastion.core.clock import Clock, SystemClock
from bastion.security.crypto import b64encode
from bastion.security.errors import InvalidToken, NoSigningKey

__all__ = ["Algorithm", "KeyRing", "RingKey"]

Algorithm = Literal["EdDSA", "HS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("EdDSA", "HS256")
HMAC_KEY_BYTES = 64

log = structlog.get_logger("bastion.security")


@dataclass(frozen=True, repr=False)
class RingKey:
    """One key of the ring, with its private material in the clear (never logged)."""

    kid: str
    alg: Algorithm
    private: bytes
    created_at: datetime

    def __repr__(self) -> str:
        return f"<RingKey {self.kid} {self.alg}>"

    @classmethod
    def generate(cls, alg: Algorithm, *, kid: str, created_at: datetime) -> RingKey:
        if alg == "EdDSA":
            private = Ed25519PrivateKey.generate().private_bytes_raw()
        elif alg == "HS256":
            private = secrets.token_bytes(HMAC_KEY_BYTES)
        else:
            raise ValueError(f"unknown algorithm {alg!r}; use one of {', '.join(ALGORITHMS)}")
        return cls(kid, alg, private, created_at)

    @property
    def signing_key(self) -> Ed25519PrivateKey | bytes:
        if self.alg == "EdDSA":
            return Ed25519PrivateKey.from_private_bytes(self.private)
        return self.private

    @property
    def verifying_key(self) -> Ed25519PublicKey | bytes:
        if self.alg == "EdDSA":
            return Ed25519PrivateKey.from_private_bytes(self.private).public_key()
        return self.private

    def public_jwk(self) -> dict[str, str] | None:
        """The public key as a JWK (RFC 8037); none for HS256, whose key is secret."""
        if self.alg != "EdDSA":
            return None
        public = Ed25519PrivateKey.from_private_bytes(self.private).public_key()
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64encode(raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }


class KeyRing:
    """The active keys: ``sign`` with the newest published one, ``verify`` with any."""

    def __init__(
        self,
        keys: Iterable[RingKey],
        *,
        clock: Clock | None = None,
        publish_delay: float = 0.0,
        leeway: float = 30.0,
    ) -> None:
        ordered = sorted(keys, key=lambda k: (k.created_at, k.kid))
        self._keys = {key.kid: key for key in ordered}
        # Key objects are built once, not per token.
        self._signers = {key.kid: key.signing_key for key in ordered}
        self._verifiers = {key.kid: key.verifying_key for key in ordered}
        self._clock = clock or SystemClock()
        self._publish_delay = timedelta(seconds=publish_delay)
        self._leeway = leeway

    @property
    def kids(self) -> list[str]:
        """Key ids, oldest first."""
        return list(self._keys)

    def signing_key(self) -> RingKey:
        """The newest key made at least ``publish_delay`` ago; the newest if none is."""
        if not self._keys:
            raise NoSigningKey("There is no signing key; create one with 'bastion keys rotate'.")
        published = self._clock.now() - self._publish_delay
        ready = [key for key in self._keys.values() if key.created_at <= published]
        return (ready or list(self._keys.values()))[-1]

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A JWT of ``claims``, with the signing key's ``kid`` in its header."""
        key = self.signing_key()
        return jwt.encode(
            dict(claims), self._signers[key.kid], algorithm=key.alg, headers={"kid": key.kid}
        )

    def verify(
        self, token: str, *, audience: str, issuer: str, leeway: float | None = None
    ) -> dict[str, Any]:
        """The claims of ``token`` if its signature, ``exp``, ``nbf``, ``aud`` and ``iss``
        all check out; :class:`InvalidToken` otherwise. ``exp`` is required."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise self._refuse("malformed", exc) from exc
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise self._refuse("unknown kid")
        if header.get("alg") != key.alg:
            raise self._refuse(f"alg {header.get('alg')!r} is not the key's {key.alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._verifiers[key.kid],
                algorithms=[key.alg],
                audience=audience,
                issuer=issuer,
                # exp and nbf are checked below against the injected clock.
                options={
                    "require": ["exp", "aud", "iss"],
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise self._refuse(type(exc).__name__, exc) from exc
        self._check_times(claims, self._leeway if leeway is None else leeway)
        return claims

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys as a JWK Set; HS256 keys are never published."""
        return {"keys": [jwk for key in self._keys.values() if (jwk := key.public_jwk())]}

    def _check_times(self, claims: Mapping[str, Any], leeway: float) -> None:
        now = self._clock.now().timestamp()
        exp, nbf = claims["exp"], claims.get("nbf")
        if not _is_number(exp) or (nbf is not None and not _is_number(nbf)):
            raise self._refuse("exp or nbf is not a number")
        if now > exp + leeway:
            raise self._refuse("expired")
        if nbf is not None and now < nbf - leeway:
            raise self._refuse("not yet valid")

    @staticmethod
    def _refuse(reason: str, error: Exception | None = None) -> InvalidToken:
        log.debug("auth.token_rejected", reason=reason, error=str(error) if error else None)
        return InvalidToken()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
