"""Signer: round trips, tampering, salts, expiry and key rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion import ManualClock
from bastion.security.errors import BadSignature, SignatureExpired
from bastion.security.signing import Signer

pytestmark = pytest.mark.security

OLD = "the-old-secret-key-that-was-rotated-out-0123"
NEW = "the-new-secret-key-that-now-signs-everything-4567"
SIGNER = Signer([NEW], salt="cookie")


@given(st.text())
def test_round_trip_of_any_text(value: str) -> None:
    assert SIGNER.unsign(SIGNER.sign(value)) == value


@given(st.text(min_size=1), st.data())
def test_any_change_is_refused(value: str, data: st.DataObject) -> None:
    signed = SIGNER.sign(value)
    index = data.draw(st.integers(0, len(signed) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != signed[index]))
    altered = signed[:index] + replacement + signed[index + 1 :]
    with pytest.raises(BadSignature):
        SIGNER.unsign(altered)


@pytest.mark.parametrize("signed", ["", "plain", "a.b", "...", "value.AAAAAAAAAAA.é"])
def test_unsigned_values_are_refused(signed: str) -> None:
    with pytest.raises(BadSignature):
        SIGNER.unsign(signed)


def test_a_salt_separates_uses() -> None:
    signed = Signer([NEW], salt="unsubscribe").sign("user:42")
    with pytest.raises(BadSignature):
        Signer([NEW], salt="password-reset").unsign(signed)


def test_max_age() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    signer = Signer([NEW], salt="link", clock=clock)
    signed = signer.sign("user:42")
    clock.advance(seconds=3600)
    assert signer.unsign(signed, max_age=3600) == "user:42"
    clock.advance(seconds=1)
    with pytest.raises(SignatureExpired) as caught:
        signer.unsign(signed, max_age=3600)
    assert caught.value.code == "security.signature_expired"
    assert isinstance(caught.value, BadSignature)
    assert signer.unsign(signed) == "user:42"  # no max_age: no expiry


def test_rotation_first_key_signs_all_keys_verify() -> None:
    signed_before = Signer([OLD], salt="cookie").sign("session")
    rotated = Signer([NEW, OLD], salt="cookie")
    assert rotated.unsign(signed_before) == "session"
    signed_after = rotated.sign("session")
    assert Signer([NEW], salt="cookie").unsign(signed_after) == "session"
    with pytest.raises(BadSignature):
        Signer([OLD], salt="cookie").unsign(signed_after)
    with pytest.raises(BadSignature):
        Signer([NEW], salt="cookie").unsign(signed_before)
