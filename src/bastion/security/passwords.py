"""Password hashing with Argon2id, off the event loop.

Argon2id is memory-hard: one hash with the defaults takes 19 MiB and tens of
milliseconds of CPU, so every call runs in a worker thread of the hasher's own
pool (one thread per core by default): a flood of logins neither blocks the
event loop, nor takes the default executor's threads (which resolve DNS for
outbound calls), nor uses more than ``threads`` x ``memory_kib`` of memory. ``verify_dummy``
spends the same work on a login for an unknown account, so that the answer
time does not tell which email addresses have accounts.

>>> import asyncio
>>> hasher = PasswordHasher(time_cost=1, memory_kib=1024)
>>> stored = asyncio.run(hasher.hash("correct horse battery staple"))
>>> asyncio.run(hasher.verify(stored, "correct horse battery staple"))
True
>>> asyncio.run(hasher.verify(stored, "wrong"))
False
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["OWASP_MINIMUMS", "PasswordHasher", "meets_owasp_minimum"]

T = TypeVar("T")

# OWASP Password Storage Cheat Sheet: equivalent Argon2id configurations with
# parallelism 1, as (memory KiB, iterations). Any one of them is the minimum.
OWASP_MINIMUMS = ((47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5))


def meets_owasp_minimum(time_cost: int, memory_kib: int) -> bool:
    """Whether the parameters are at or above one of OWASP's minimum configurations."""
    return any(memory_kib >= m and time_cost >= t for m, t in OWASP_MINIMUMS)


class PasswordHasher:
    """Argon2id hashes in PHC string form (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``)."""

    def __init__(
        self,
        time_cost: int = 2,
        memory_kib: int = 19_456,
        parallelism: int = 1,
        *,
        threads: int | None = None,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # Hashed once, with the same parameters, so that a dummy verify costs
        # what a real one costs.
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))
        # Threads start on demand; the pool is shared by every loop that uses the hasher.
        self._pool = ThreadPoolExecutor(threads or os.cpu_count() or 2, "bastion-argon2")

    async def hash(self, password: str) -> str:
        """Hash ``password`` with a fresh random salt."""
        return await self._run(self._argon2.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``; False (never an error) for a
        mismatch or a hash that is not an Argon2 hash."""
        return await self._run(self._verify, stored_hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for an account that does not exist."""
        await self._run(self._verify, self._dummy_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters (rehash it at the next
        successful login); True for a hash this hasher cannot read."""
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
