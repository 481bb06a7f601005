"""SecretBox: sealing, tampering, contexts and key rotation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.security.crypto import SecretBox, b64decode, b64encode
from bastion.security.errors import DecryptionFailed

pytestmark = pytest.mark.security

OLD = "the-old-secret-key-that-was-rotated-out-0123"
NEW = "the-new-secret-key-that-now-seals-everything-4567"


@given(st.binary(max_size=512), st.binary(max_size=32))
def test_round_trip(data: bytes, context: bytes) -> None:
    box = SecretBox([NEW])
    sealed = box.encrypt(data, context=context)
    assert sealed.startswith("v1.")
    assert box.decrypt(sealed, context=context) == data


def test_sealing_twice_gives_different_values() -> None:
    box = SecretBox([NEW])
    assert box.encrypt(b"same") != box.encrypt(b"same")


def test_every_altered_byte_is_refused() -> None:
    box = SecretBox([NEW])
    raw = b64decode(box.encrypt(b"a signing key")[3:])
    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        with pytest.raises(DecryptionFailed):
            box.decrypt("v1." + b64encode(bytes(altered)))


@pytest.mark.parametrize("sealed", ["", "v2.abc", "v1.", "v1.AAAA", "v1.é", "plain text"])
def test_values_that_are_not_sealed_are_refused(sealed: str) -> None:
    with pytest.raises(DecryptionFailed):
        SecretBox([NEW]).decrypt(sealed)


def test_a_value_does_not_open_in_another_context() -> None:
    box = SecretBox([NEW])
    sealed = box.encrypt(b"totp seed", context=b"user:1")
    with pytest.raises(DecryptionFailed):
        box.decrypt(sealed, context=b"user:2")


def test_rotation_first_key_seals_all_keys_open() -> None:
    before = SecretBox([OLD])
    sealed_before = before.encrypt(b"webhook secret")
    after = SecretBox([NEW, OLD])
    assert after.decrypt(sealed_before) == b"webhook secret"
    assert after.needs_reseal(sealed_before)
    resealed = after.encrypt(after.decrypt(sealed_before))
    assert not after.needs_reseal(resealed)
    # Once the old key is dropped, what it sealed no longer opens...
    with pytest.raises(DecryptionFailed, match="PREVIOUS_SECRET_KEYS"):
        SecretBox([NEW]).decrypt(sealed_before)
    # ...and the old key never opens what the new one sealed.
    with pytest.raises(DecryptionFailed):
        before.decrypt(resealed)


def test_a_box_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SecretBox([])
