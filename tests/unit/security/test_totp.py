"""TOTP verification with windows and replay protection; recovery codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from bastion.security.tokens import hash_token
from bastion.security.totp import (
    new_recovery_codes,
    new_totp_secret,
    normalize_recovery_code,
    provisioning_uri,
    verify_totp,
)

pytestmark = pytest.mark.security

NOW = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30


@pytest.fixture
def secret() -> str:
    return new_totp_secret()


def _code(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def test_secrets_are_160_bit_base32() -> None:
    secret = new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert new_totp_secret() != secret


def test_provisioning_uri(secret: str) -> None:
    uri = urlparse(provisioning_uri(secret, "ann@example.com", "Taskboard"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/Taskboard:ann%40example.com"
    query = parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["Taskboard"]


def test_the_current_code_returns_its_step(secret: str) -> None:
    assert verify_totp(secret, _code(secret, NOW), now=NOW, last_used_step=None) == STEP
    spaced = _code(secret, NOW)[:3] + " " + _code(secret, NOW)[3:]
    assert verify_totp(secret, spaced, now=NOW, last_used_step=None) == STEP


@pytest.mark.parametrize(
    ("offset", "window", "expected"),
    [
        (-1, 1, -1),
        (1, 1, 1),
        (-2, 1, None),
        (2, 1, None),
        (-2, 2, -2),
        (1, 0, None),
    ],
)
def test_the_window(secret: str, offset: int, window: int, expected: int | None) -> None:
    code = _code(secret, NOW + timedelta(seconds=30 * offset))
    step = verify_totp(secret, code, now=NOW, last_used_step=None, window=window)
    assert step == (None if expected is None else STEP + expected)


def test_a_used_step_cannot_be_replayed(secret: str) -> None:
    code = _code(secret, NOW)
    step = verify_totp(secret, code, now=NOW, last_used_step=None)
    assert step == STEP
    assert verify_totp(secret, code, now=NOW, last_used_step=step) is None
    # Nor an older code still inside the window.
    older = _code(secret, NOW - timedelta(seconds=30))
    assert verify_totp(secret, older, now=NOW, last_used_step=step) is None
    # The next step's code is fine.
    later = NOW + timedelta(seconds=30)
    assert verify_totp(secret, _code(secret, later), now=later, last_used_step=step) == STEP + 1


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16", "12 34 5"]
)
def test_malformed_codes_are_refused(secret: str, code: str) -> None:
    assert verify_totp(secret, code, now=NOW, last_used_step=None) is None


def test_a_wrong_code_is_refused(secret: str) -> None:
    right = _code(secret, NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert verify_totp(secret, wrong, now=NOW, last_used_step=None) is None


def test_recovery_codes_are_typable_and_unique() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}", code)
    assert len(new_recovery_codes(3)) == 3
    typed = codes[0].upper().replace("-", " ")
    assert hash_token(normalize_recovery_code(typed)) == hash_token(
        normalize_recovery_code(codes[0])
    )
