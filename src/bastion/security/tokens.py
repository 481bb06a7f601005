"""Random tokens (API keys, reset links, session ids) and how to store and compare them.

A token of 32 random bytes cannot be guessed, so a plain SHA-256 of it is a
safe thing to store: unlike a password, it needs no slow hash. Look tokens up
by their hash, and compare secrets with :func:`tokens_equal`.

>>> token = new_token(prefix="bk_")
>>> token.startswith("bk_") and len(token) == 3 + 43
True
>>> tokens_equal(hash_token(token), hash_token(token))
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_token", "new_token", "tokens_equal"]


def new_token(nbytes: int = 32, prefix: str = "") -> str:
    """``prefix`` followed by ``nbytes`` random bytes in URL-safe base64 (no padding)."""
    if nbytes < 16:
        raise ValueError(f"a token needs at least 16 random bytes, not {nbytes}")
    return prefix + secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """The SHA-256 of ``token`` in hex: what to store in place of a high-entropy token."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    """Compare two secrets in time that does not depend on where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())
