"""Alembic, run by Bastion: the framework's history plus the app's on top.

The framework ships its revisions under the branch label ``bastion``; an app
adds its own directory (``create_app(migrations=...)``), whose first revision
depends on the framework's head and carries the label ``app``. Every command
runs on a connection Bastion opens, so the same code serves SQLite and
PostgreSQL, the CLI and the tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData

from bastion.core.db import Base, Database

T = TypeVar("T")
HERE = Path(__file__).parent
FRAMEWORK_VERSIONS = HERE / "versions"
FRAMEWORK_BRANCH = "bastion"
APP_BRANCH = "app"
# Modules holding the framework's tables; imported before autogenerate compares.
FRAMEWORK_MODELS = (
    "bastion.lifecycle.models",
    "bastion.ops.models",
    "bastion.security.models",
    "bastion.auth.models",
    "bastion.idempotency.models",
    "bastion.outbox.models",
    "bastion.jobs.models",
    "bastion.security.audit.models",
    "bastion.orgs.models",
    "bastion.tenancy.models",
    "bastion.auth.oauth_models",
    "bastion.webhooks.models",
)


def target_metadata() -> MetaData:
    """``Base.metadata`` with every framework table imported."""
    import importlib

    for module in FRAMEWORK_MODELS:
        importlib.import_module(module)
    return Base.metadata


def alembic_config(app_dirs: Sequence[Path] = ()) -> Config:
    """An Alembic config over the framework's versions and the app's."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    locations = [str(FRAMEWORK_VERSIONS), *(str(Path(d).resolve()) for d in app_dirs)]
    config.set_main_option("version_locations", os.pathsep.join(locations))
    return config


@lru_cache(maxsize=8)
def _script(app_dirs: tuple[Path, ...]) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(app_dirs))


def script_directory(app_dirs: Sequence[Path] = ()) -> ScriptDirectory:
    return _script(tuple(Path(d).resolve() for d in app_dirs))


@dataclass(frozen=True)
class MigrationStatus:
    """Where the database stands against the code's migration heads."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        # A head reached through ``depends_on`` is not stored in alembic_version,
        # so compare what is pending, not the two lists.
        return not self.pending


async def _run(db: Database, fn: Callable[[Connection], T]) -> T:
    async with db.engine.begin() as conn:
        return await conn.run_sync(fn)


def _with_connection(connection: Connection, app_dirs: Sequence[Path]) -> Config:
    config = alembic_config(app_dirs)
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, app_dirs: Sequence[Path] = (), revision: str = "heads") -> None:
    await _run(db, lambda c: command.upgrade(_with_connection(c, app_dirs), revision))


async def downgrade(db: Database, revision: str, app_dirs: Sequence[Path] = ()) -> None:
    await _run(db, lambda c: command.downgrade(_with_connection(c, app_dirs), revision))


async def status(db: Database, app_dirs: Sequence[Path] = ()) -> MigrationStatus:
    script = script_directory(app_dirs)

    def read(connection: Connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    current = await _run(db, read)
    try:
        applied = {rev.revision for rev in script.iterate_revisions(current, "base")}
    except RevisionError as exc:
        raise CommandError(
            f"the database is at {', '.join(current)}, which this code does not know "
            "(is --app / BASTION_APP set to the app that migrated it?)"
        ) from exc
    every = reversed(list(script.walk_revisions()))
    pending = tuple(rev.revision for rev in every if rev.revision not in applied)
    return MigrationStatus(current=current, heads=tuple(script.get_heads()), pending=pending)


async def pending_revisions(db: Database, app_dirs: Sequence[Path] = ()) -> tuple[str, ...]:
    """Revisions not yet applied, oldest first (empty when at head)."""
    return (await status(db, app_dirs)).pending


async def schema_diff(db: Database) -> list[Any]:
    """Differences between the models and the database (empty when they agree)."""
    metadata = target_metadata()

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        diffs: list[Any] = compare_metadata(context, metadata)
        return diffs

    return await _run(db, compare)


async def revision(db: Database, message: str, app_dir: Path, *, autogenerate: bool = True) -> str:
    """Write a new revision into the app's directory; return its file path."""
    await asyncio.to_thread(app_dir.mkdir, parents=True, exist_ok=True)
    script = script_directory([app_dir])
    has_app_branch = any(APP_BRANCH in (rev.branch_labels or ()) for rev in script.walk_revisions())
    if has_app_branch:
        options: dict[str, Any] = {"head": f"{APP_BRANCH}@head"}
    else:
        framework_head = script.get_revision(f"{FRAMEWORK_BRANCH}@head")
        options = {
            "head": "base",
            "branch_label": APP_BRANCH,
            "depends_on": framework_head.revision if framework_head else None,
        }

    def write(connection: Connection) -> Any:
        return command.revision(
            _with_connection(connection, [app_dir]),
            message=message,
            autogenerate=autogenerate,
            version_path=str(app_dir.resolve()),
            **options,
        )

    made = await _run(db, write)
    _script.cache_clear()
    scripts = made if isinstance(made, list) else [made]
    return ", ".join(str(s.path) for s in scripts if s is not None)
