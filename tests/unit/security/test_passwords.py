"""Argon2id hashing: round trips, malformed hashes, rehash detection, the dummy path."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bastion.security.passwords import PasswordHasher, meets_owasp_minimum

pytestmark = pytest.mark.security

# Small parameters keep the tests fast; the defaults are checked on their own.
FAST = {"time_cost": 1, "memory_kib": 1024}


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(**FAST)


async def test_hash_verifies_only_its_password(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert await hasher.verify(stored, "correct horse battery staple")
    assert not await hasher.verify(stored, "correct horse battery stapl")
    assert not await hasher.verify(stored, "")


async def test_the_same_password_hashes_differently(hasher: PasswordHasher) -> None:
    first, second = await hasher.hash("pässwörd 🔑"), await hasher.hash("pässwörd 🔑")
    assert first != second
    assert await hasher.verify(first, "pässwörd 🔑")
    assert await hasher.verify(second, "pässwörd 🔑")


@pytest.mark.parametrize(
    "stored",
    ["", "not a hash", "$argon2id$v=19$m=1024,t=1,p=1$short$", "$2b$12$" + "a" * 53, "\x00"],
)
async def test_malformed_hashes_do_not_verify_and_need_rehash(
    hasher: PasswordHasher, stored: str
) -> None:
    assert await hasher.verify(stored, "anything") is False
    assert hasher.needs_rehash(stored)


async def test_needs_rehash_when_the_parameters_change(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("a long enough password")
    assert not hasher.needs_rehash(stored)
    stronger = PasswordHasher(time_cost=2, memory_kib=2048)
    assert stronger.needs_rehash(stored)
    # An old hash still verifies under the new parameters, so it can be upgraded.
    assert await stronger.verify(stored, "a long enough password")


class _RecordingArgon2:
    """Delegates to argon2's hasher and notes the thread of each call."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.threads: list[str] = []

    def hash(self, password: str) -> str:
        self.threads.append(threading.current_thread().name)
        return str(self.real.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        self.threads.append(threading.current_thread().name)
        return bool(self.real.verify(stored, password))


async def test_hashing_runs_in_the_hashers_own_threads() -> None:
    hasher = PasswordHasher(**FAST, threads=2)
    recording = _RecordingArgon2(hasher._argon2)
    hasher._argon2 = recording  # type: ignore[assignment]
    stored = await hasher.hash("password")
    assert await hasher.verify(stored, "password")
    await hasher.verify_dummy("password")
    assert len(recording.threads) == 3
    assert all(name.startswith("bastion-argon2") for name in recording.threads)
    assert hasher._pool._max_workers == 2


async def test_verify_dummy_returns_nothing_and_uses_the_same_parameters(
    hasher: PasswordHasher,
) -> None:
    assert await hasher.verify_dummy("whatever the user typed") is None
    assert not hasher.needs_rehash(hasher._dummy_hash)


def test_defaults_are_owasp_minimum() -> None:
    hasher = PasswordHasher()
    assert hasher._argon2.time_cost == 2
    assert hasher._argon2.memory_cost == 19_456
    assert hasher._argon2.parallelism == 1
    assert meets_owasp_minimum(2, 19_456)
    assert meets_owasp_minimum(1, 47_104)
    assert not meets_owasp_minimum(1, 19_456)
    assert not meets_owasp_minimum(5, 7_000)
