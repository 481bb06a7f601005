"""Time-based one-time passwords (RFC 6238) and recovery codes, for MFA.

:func:`verify_totp` returns the time step a code matched; store it, and pass it
back as ``last_used_step`` next time: a code of that step or an earlier one is
refused, so a code seen over a shoulder cannot be used again.

>>> from datetime import UTC, datetime
>>> secret = new_totp_secret()
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> import pyotp
>>> code = pyotp.TOTP(secret).at(now)
>>> step = verify_totp(secret, code, now=now, last_used_step=None)
>>> verify_totp(secret, code, now=now, last_used_step=step) is None
True
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp

__all__ = [
    "new_recovery_codes",
    "new_totp_secret",
    "normalize_recovery_code",
    "provisioning_uri",
    "verify_totp",
]

STEP_SECONDS = 30
DIGITS = 6
# No 0/o, 1/l/i: recovery codes are read off paper and typed.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_GROUPS = 3
RECOVERY_GROUP_LENGTH = 4


def new_totp_secret() -> str:
    """A random 160-bit secret in base32, as authenticator apps expect."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI to show as a QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def verify_totp(
    secret: str, code: str, *, now: datetime, last_used_step: int | None, window: int = 1
) -> int | None:
    """The time step ``code`` belongs to, within ``window`` steps of ``now``, if it is
    later than ``last_used_step``; None otherwise (wrong, stale or replayed)."""
    code = code.replace(" ", "").replace("-", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    matched = None
    # Every candidate is compared, so the time taken says nothing about which matched.
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (
            last_used_step is None or step > last_used_step
        ):
            matched = step
    return matched


def new_recovery_codes(n: int = 10) -> list[str]:
    """``n`` single-use codes like ``7kq2-mx9c-e4tr`` (about 59 random bits each).

    Store them as :func:`~bastion.security.tokens.hash_token` of
    :func:`normalize_recovery_code`, never in the clear.
    """
    return [
        "-".join(
            "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
            for _ in range(RECOVERY_GROUPS)
        )
        for _ in range(n)
    ]


def normalize_recovery_code(code: str) -> str:
    """The form to hash: lower case, without spaces or dashes (``7KQ2 MX9C E4TR``
    and ``7kq2-mx9c-e4tr`` are the same code)."""
    return "".join(c for c in code.lower() if c not in " -")
