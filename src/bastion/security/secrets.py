"""Where secrets come from: :class:`SecretProvider` and its sources.

- :class:`EnvSecrets`: environment variables (``NAME`` or ``PREFIX_NAME``);
- :class:`FileSecrets`: one file per secret, as Docker and Kubernetes mount them
  (``/run/secrets/NAME``);
- :class:`SecretRing`: named secrets that rotate, stored in ``bastion_secrets``
  sealed with the master key (``BASTION_SECRET_KEY``); every live version is
  kept, so a signature made with the previous version still verifies while
  clients move to the new one. ``bastion keys rotate`` re-seals versions sealed
  with a previous master key (see :meth:`SecretRing.reseal`).

JWT signing keys live in their own ring (:class:`~bastion.security.keys.SigningKeyStore`),
which the same command rotates.

>>> import asyncio, os
>>> os.environ["DOC_SECRETS_WEBHOOK"] = "s3cret"
>>> asyncio.run(EnvSecrets("DOC_SECRETS_").get("webhook"))
's3cret'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.clock import Clock, SystemClock
from bastion.core.db import Database
from bastion.security.crypto import SecretBox
from bastion.security.errors import SecretNotFound
from bastion.security.models import StoredSecret
from bastion.security.tokens import new_token

__all__ = ["EnvSecrets", "FileSecrets", "SecretProvider", "SecretRing"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class SecretProvider(Protocol):
    """Gives the current value of a named secret; :class:`SecretNotFound` if none."""

    async def get(self, name: str) -> str: ...


def _checked(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"not a secret name: {name!r}")
    return name


class EnvSecrets:
    """``PREFIX`` + the name in upper case, from the environment."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    async def get(self, name: str) -> str:
        variable = self.prefix + _checked(name).upper().replace("-", "_").replace(".", "_")
        value = os.environ.get(variable)
        if not value:
            raise SecretNotFound(f"The secret {name!r} is not set: set {variable}.")
        return value


class FileSecrets:
    """The file ``directory/name``, without its trailing newline."""

    def __init__(self, directory: str | Path = "/run/secrets") -> None:
        self.directory = Path(directory)

    async def get(self, name: str) -> str:
        path = self.directory / _checked(name)
        try:
            return path.read_text().rstrip("\r\n")
        except FileNotFoundError:
            raise SecretNotFound(f"The secret {name!r} is not set: no file {path}.") from None


class SecretRing:
    """Named secrets with versions, sealed at rest; ``get`` gives the newest live one."""

    def __init__(self, db: Database, box: SecretBox, clock: Clock | None = None) -> None:
        self._db = db
        self._box = box
        self._clock = clock or SystemClock()

    async def get(self, name: str) -> str:
        values = await self.values(name)
        if not values:
            raise SecretNotFound(f"The secret {name!r} has no version: rotate it first.")
        return values[0]

    async def values(self, name: str) -> list[str]:
        """Every live version's value, newest first (sign with the first, accept all)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(StoredSecret)
                .where(StoredSecret.name == _checked(name), StoredSecret.retired_at.is_(None))
                .order_by(StoredSecret.version.desc())
            )
            return [self._open(row) for row in rows]

    async def rotate(self, name: str, value: str | None = None) -> int:
        """Add a version (``value``, or a new random one); its number. Two rotations at
        once cannot take the same number: the primary key refuses the second."""
        async with self._db.session() as session:
            latest = select(func.coalesce(func.max(StoredSecret.version), 0)).where(
                StoredSecret.name == _checked(name)
            )
            version = int(await session.scalar(latest) or 0) + 1
            session.add(
                StoredSecret(
                    name=name,
                    version=version,
                    sealed=self._box.encrypt(
                        (value or new_token(32)).encode(), context=_context(name, version)
                    ),
                    created_at=self._clock.now(),
                )
            )
        return version

    async def retire(self, name: str, version: int) -> bool:
        """Stop using one version; whether it was live."""
        async with self._db.session() as session:
            result = await session.execute(
                update(StoredSecret)
                .where(
                    StoredSecret.name == name,
                    StoredSecret.version == version,
                    StoredSecret.retired_at.is_(None),
                )
                .values(retired_at=self._clock.now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def reseal(self, session: AsyncSession | None = None) -> int:
        """Seal again with the current master key every version sealed with a previous
        one; how many. Then the previous master key can be dropped."""
        if session is None:
            async with self._db.session() as own:
                return await self.reseal(own)
        rows = (await session.scalars(select(StoredSecret))).all()
        stale = [row for row in rows if self._box.needs_reseal(row.sealed)]
        for row in stale:
            context = _context(row.name, row.version)
            row.sealed = self._box.encrypt(
                self._box.decrypt(row.sealed, context=context), context=context
            )
        return len(stale)

    def _open(self, row: StoredSecret) -> str:
        return self._box.decrypt(row.sealed, context=_context(row.name, row.version)).decode()


def _context(name: str, version: int) -> bytes:
    # Binds a sealed value to its row: copied to another name or version, it does not open.
    return f"bastion_secrets:{name}:{version}".encode()
