"""Secrets at rest (signing keys, TOTP secrets, webhook secrets), sealed with AES-256-GCM.

The keys are derived with HKDF-SHA256 from the app's secret keys: the current
``BASTION_SECRET_KEY`` seals, it and every key of
``BASTION_SECURITY__PREVIOUS_SECRET_KEYS`` open. Rotating the secret therefore
needs no downtime: move the old one to the previous keys, set the new one, and
re-seal at leisure (:meth:`SecretBox.needs_reseal`).

A sealed value is ``v1.`` + URL-safe base64 of ``key id (4) | nonce (12) |
ciphertext | tag (16)``. ``context`` binds a value to its use (the row it
belongs to): a value copied to another row does not open there.

>>> box = SecretBox(["a-long-random-secret-key-of-at-least-32-chars"])
>>> sealed = box.encrypt(b"totp seed", context=b"user:42")
>>> box.decrypt(sealed, context=b"user:42")
b'totp seed'
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.security.errors import DecryptionFailed

__all__ = ["SecretBox", "derive_key"]

VERSION = "v1."
KEY_ID_BYTES = 4
NONCE_BYTES = 12


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose``, derived from ``secret`` with HKDF-SHA256."""
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=f"bastion:{purpose}".encode())
    return hkdf.derive(secret.encode())


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """URL-safe base64 without padding; ``ValueError`` for anything else."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise ValueError("not URL-safe base64") from exc


class SecretBox:
    """Seals bytes with the first of ``secret_keys``; opens with any of them."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("SecretBox needs at least one secret key")
        self._keys: list[tuple[bytes, AESGCM]] = []
        for secret in secret_keys:
            key = derive_key(secret, "secret-box")
            self._keys.append((hashlib.sha256(key).digest()[:KEY_ID_BYTES], AESGCM(key)))

    def encrypt(self, data: bytes, *, context: bytes = b"") -> str:
        key_id, aead = self._keys[0]
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + b64encode(key_id + nonce + aead.encrypt(nonce, data, key_id + context))

    def decrypt(self, sealed: str, *, context: bytes = b"") -> bytes:
        """The bytes sealed in ``sealed``; :class:`DecryptionFailed` if it was altered,
        belongs to another context, or was sealed with a key no longer configured."""
        key_id, nonce, ciphertext = self._split(sealed)
        for candidate_id, aead in self._keys:
            if candidate_id == key_id:
                try:
                    return aead.decrypt(nonce, ciphertext, key_id + context)
                except InvalidTag:
                    continue  # another configured key may share the 4-byte id
        raise DecryptionFailed(
            "A sealed secret did not open: it was altered, or sealed with a secret key "
            "that is neither BASTION_SECRET_KEY nor in BASTION_SECURITY__PREVIOUS_SECRET_KEYS."
        )

    def needs_reseal(self, sealed: str) -> bool:
        """Whether ``sealed`` was sealed with a previous key (decrypt and encrypt it again)."""
        return self._split(sealed)[0] != self._keys[0][0]

    def _split(self, sealed: str) -> tuple[bytes, bytes, bytes]:
        if not sealed.startswith(VERSION):
            raise DecryptionFailed("The value is not a sealed secret.")
        try:
            raw = b64decode(sealed[len(VERSION) :])
        except ValueError as exc:
            raise DecryptionFailed("The value is not a sealed secret.") from exc
        if len(raw) < KEY_ID_BYTES + NONCE_BYTES + 16:
            raise DecryptionFailed("The value is not a sealed secret.")
        header = KEY_ID_BYTES + NONCE_BYTES
        return raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:header], raw[header:]
