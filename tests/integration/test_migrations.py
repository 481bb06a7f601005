"""Migrations and seeders against real databases (SQLite and PostgreSQL).

Covers what a user relies on when running ``bastion db``: the framework's and
the app's histories upgrade and downgrade cleanly, the models agree with the
migrations, ``revision`` writes a usable app revision, and seeders apply once.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncSession

import examples.taskboard.models  # noqa: F401  (the taskboard tables join Base.metadata)
from bastion import Base, Database
from bastion.lifecycle import migrations, run_seeders
from bastion.lifecycle.service import seed_history
from bastion.orgs.models import Organization
from examples.taskboard.app import MIGRATIONS as TASKBOARD_MIGRATIONS

pytestmark = [pytest.mark.db]

FRAMEWORK_TABLES = {t for t in migrations.target_metadata().tables if t.startswith("bastion_")}
TASKBOARD_TABLES = {"taskboard_projects", "taskboard_tasks"}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def table_names(db: Database) -> set[str]:
    """Tables in the database, without Alembic's own bookkeeping table."""
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    return set(names) - {"alembic_version"}


def all_revisions(app_dirs: Sequence[Path]) -> set[str]:
    script = migrations.script_directory(app_dirs)
    return {rev.revision for rev in script.walk_revisions()}


def framework_head() -> str:
    head = migrations.script_directory().get_revision(f"{migrations.FRAMEWORK_BRANCH}@head")
    assert head is not None
    return head.revision


HISTORIES = [
    pytest.param((), FRAMEWORK_TABLES, id="framework"),
    pytest.param((TASKBOARD_MIGRATIONS,), FRAMEWORK_TABLES | TASKBOARD_TABLES, id="taskboard"),
]


# --- upgrade / status / downgrade ---------------------------------------------------------------


@pytest.mark.parametrize(("app_dirs", "tables"), HISTORIES)
async def test_upgrade_downgrade_round_trip(
    db: Database, app_dirs: tuple[Path, ...], tables: set[str]
) -> None:
    revisions = all_revisions(app_dirs)

    fresh = await migrations.status(db, app_dirs)
    assert fresh.current == ()
    assert not fresh.at_head
    assert set(fresh.pending) == revisions
    # Oldest first: the framework's first revision comes before everything built on it.
    assert fresh.pending[0] == "bastion_0001"

    await migrations.upgrade(db, app_dirs)
    at_head = await migrations.status(db, app_dirs)
    assert at_head.at_head
    assert at_head.pending == ()
    assert at_head.current
    assert await table_names(db) == tables

    await migrations.downgrade(db, "base", app_dirs)
    down = await migrations.status(db, app_dirs)
    assert down.current == ()
    assert not down.at_head
    assert set(down.pending) == revisions
    assert await table_names(db) == set()

    await migrations.upgrade(db, app_dirs)
    assert (await migrations.status(db, app_dirs)).at_head
    assert await table_names(db) == tables


async def test_app_history_upgrades_on_top_of_framework_history(db: Database) -> None:
    """An app adopting Bastion's history later: framework first, then the app's on top."""
    await migrations.upgrade(db)
    assert await table_names(db) == FRAMEWORK_TABLES
    behind = await migrations.status(db, [TASKBOARD_MIGRATIONS])
    assert behind.pending == ("taskboard_0001", "taskboard_0002")

    await migrations.upgrade(db, [TASKBOARD_MIGRATIONS])
    assert (await migrations.status(db, [TASKBOARD_MIGRATIONS])).at_head
    assert await table_names(db) == FRAMEWORK_TABLES | TASKBOARD_TABLES


async def test_downgrade_app_branch_only(db: Database) -> None:
    """``app@-1`` reverts the app's last revision and leaves the framework's tables."""
    await migrations.upgrade(db, [TASKBOARD_MIGRATIONS])
    await migrations.downgrade(db, f"{migrations.APP_BRANCH}@-1", [TASKBOARD_MIGRATIONS])
    assert (await migrations.status(db, [TASKBOARD_MIGRATIONS])).pending == ("taskboard_0002",)
    await migrations.downgrade(db, f"{migrations.APP_BRANCH}@-1", [TASKBOARD_MIGRATIONS])
    assert await table_names(db) == FRAMEWORK_TABLES
    assert (await migrations.status(db, [TASKBOARD_MIGRATIONS])).pending == (
        "taskboard_0001",
        "taskboard_0002",
    )


# --- models and migrations agree ----------------------------------------------------------------


async def test_models_and_migrations_agree(db: Database) -> None:
    await migrations.upgrade(db, [TASKBOARD_MIGRATIONS])
    diff = [d for d in await migrations.schema_diff(db) if not _test_table_added(d)]
    assert diff == [], f"models and migrations disagree: {diff}"


def _test_table_added(entry: Any) -> bool:
    """Tables that test modules map on the shared ``Base`` have no migration."""
    test_tables = {
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if f"{os.sep}tests{os.sep}" in inspect.getfile(mapper.class_)
    }
    return entry[0] == "add_table" and entry[1].name in test_tables


async def test_schema_diff_reports_tables_missing_from_migrations(db: Database) -> None:
    """The agreement check can fail: without the app's history its tables show up as missing."""
    await migrations.upgrade(db)
    diff = await migrations.schema_diff(db)
    added = {entry[1].name for entry in diff if entry[0] == "add_table"}
    assert added >= TASKBOARD_TABLES


# --- revision -----------------------------------------------------------------------------------


async def test_revision_autogenerates_app_branch_for_new_model(
    db: Database, tmp_path: Path
) -> None:
    app_dir = tmp_path / "migrations" / "versions"
    await migrations.upgrade(db)
    # A Table on the shared metadata, removed again so that no other test sees it.
    widgets = sa.Table(
        "test_widgets",
        Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    try:
        written = await migrations.revision(db, "add widgets", app_dir)
        path = Path(written)
        assert path.parent == app_dir.resolve()
        assert path.is_file()
        assert "op.create_table('test_widgets'" in path.read_text()

        script = migrations.script_directory([app_dir])
        first = script.get_revision(f"{migrations.APP_BRANCH}@head")
        assert first is not None
        assert first.module.branch_labels == (migrations.APP_BRANCH,)
        assert first.module.depends_on == framework_head()
        assert first.down_revision is None

        pending = await migrations.status(db, [app_dir])
        assert pending.pending == (first.revision,)

        await migrations.upgrade(db, [app_dir])
        assert (await migrations.status(db, [app_dir])).at_head
        assert "test_widgets" in await table_names(db)
        # Whatever autogenerate wrote brings the database level with the models.
        assert await migrations.schema_diff(db) == []

        # The next revision continues the app branch instead of starting another.
        second_path = Path(
            await migrations.revision(db, "nothing yet", app_dir, autogenerate=False)
        )
        assert second_path.is_file()
        script = migrations.script_directory([app_dir])
        second = script.get_revision(f"{migrations.APP_BRANCH}@head")
        assert second is not None
        assert second.revision != first.revision
        assert second.down_revision == first.revision
        assert not second.module.branch_labels
        assert (await migrations.status(db, [app_dir])).pending == (second.revision,)

        await migrations.upgrade(db, [app_dir])
        assert (await migrations.status(db, [app_dir])).at_head

        await migrations.downgrade(db, "base", [app_dir])
        assert await table_names(db) == set()
        # Pending revisions are listed oldest first, in the order upgrade applies them.
        pending_all = (await migrations.status(db, [app_dir])).pending
        framework = tuple(
            rev.revision for rev in reversed(list(migrations.script_directory().walk_revisions()))
        )
        assert pending_all == (*framework, first.revision, second.revision)
    finally:
        Base.metadata.remove(widgets)


async def test_autogenerate_refuses_a_database_behind_head(db: Database, tmp_path: Path) -> None:
    app_dir = tmp_path / "versions"
    with pytest.raises(CommandError, match="not up to date"):
        await migrations.revision(db, "too early", app_dir)
    assert list(app_dir.glob("*.py")) == []


# --- seeders ------------------------------------------------------------------------------------


class CountingSeeder:
    """Adds one organization per call, so the rows show how many times it really ran."""

    def __init__(self, *, fail_times: int = 0, delay: float = 0.0) -> None:
        self.calls = 0
        self.fail_times = fail_times
        self.delay = delay

    async def __call__(self, session: AsyncSession) -> None:
        self.calls += 1
        session.add(Organization(name=f"seeded {self.calls}"))
        await session.flush()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.calls <= self.fail_times:
            raise RuntimeError("seeder failed")


async def row_count(db: Database) -> int:
    async with db.session() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(Organization))
        return int(count or 0)


async def recorded(db: Database) -> list[str]:
    return [run.name for run in await seed_history(db)]


@pytest.fixture
async def seed_db(db: Database) -> Database:
    await migrations.upgrade(db, [TASKBOARD_MIGRATIONS])
    return db


async def test_seeder_runs_once(seed_db: Database) -> None:
    seeder = CountingSeeder()

    first = await run_seeders(seed_db, {"demo": seeder})
    assert (first.applied, first.skipped) == (["demo"], [])
    second = await run_seeders(seed_db, {"demo": seeder})
    assert (second.applied, second.skipped) == ([], ["demo"])

    assert seeder.calls == 1
    assert await row_count(seed_db) == 1
    assert await recorded(seed_db) == ["demo"]


async def test_force_reruns_recorded_seeders(seed_db: Database) -> None:
    seeder = CountingSeeder()
    await run_seeders(seed_db, {"demo": seeder})

    forced = await run_seeders(seed_db, {"demo": seeder}, force=True)
    assert (forced.applied, forced.skipped) == (["demo"], [])
    assert seeder.calls == 2
    assert await row_count(seed_db) == 2
    assert await recorded(seed_db) == ["demo"]


async def test_forced_seeder_that_never_ran_is_recorded(seed_db: Database) -> None:
    seeder = CountingSeeder()
    await run_seeders(seed_db, {"demo": seeder}, force=True)
    assert await recorded(seed_db) == ["demo"]

    again = await run_seeders(seed_db, {"demo": seeder})
    assert again.skipped == ["demo"]
    assert seeder.calls == 1


async def test_failing_seeder_leaves_no_record(seed_db: Database) -> None:
    ok, flaky = CountingSeeder(), CountingSeeder(fail_times=1)

    with pytest.raises(RuntimeError, match="seeder failed"):
        await run_seeders(seed_db, {"ok": ok, "flaky": flaky})
    # The seeder that succeeded is kept; the failed one left neither rows nor a record.
    assert await recorded(seed_db) == ["ok"]
    assert await row_count(seed_db) == 1

    retry = await run_seeders(seed_db, {"ok": ok, "flaky": flaky})
    assert (retry.applied, retry.skipped) == (["flaky"], ["ok"])
    assert sorted(await recorded(seed_db)) == ["flaky", "ok"]
    assert await row_count(seed_db) == 2


async def test_concurrent_seeding_applies_each_seeder_once(
    seed_db: Database, database_url: str
) -> None:
    # The seeder holds its claim for a while so the other run must meet it.
    seeder = CountingSeeder(delay=0.3)
    other = Database(database_url)
    try:
        results = await asyncio.gather(
            run_seeders(seed_db, {"demo": seeder}), run_seeders(other, {"demo": seeder})
        )
    finally:
        await other.dispose()

    assert sorted(r.applied for r in results) == [[], ["demo"]]
    assert sorted(r.skipped for r in results) == [[], ["demo"]]
    assert seeder.calls == 1
    assert await row_count(seed_db) == 1
    assert await recorded(seed_db) == ["demo"]


async def test_concurrent_seeding_after_a_failed_claim(
    seed_db: Database, database_url: str
) -> None:
    """When the process holding the claim fails, the other one applies the seeder."""
    seeder = CountingSeeder(fail_times=1, delay=0.3)
    other = Database(database_url)
    try:
        results = await asyncio.gather(
            run_seeders(seed_db, {"demo": seeder}),
            run_seeders(other, {"demo": seeder}),
            return_exceptions=True,
        )
    finally:
        await other.dispose()

    failures = [r for r in results if isinstance(r, BaseException)]
    successes = [r for r in results if not isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], RuntimeError)
    assert [s.applied for s in successes] == [["demo"]]
    assert seeder.calls == 2
    assert await row_count(seed_db) == 1
    assert await recorded(seed_db) == ["demo"]
