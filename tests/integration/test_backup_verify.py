"""deploy/backup/verify-backup.sh against the local PostgreSQL: a real dump of the
taskboard restores and passes; a dump behind the migrations or too empty fails."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bastion import bastion_state
from bastion.lifecycle import migrations
from examples.taskboard.app import build
from examples.taskboard.seed import demo_project
from tests.conftest import POSTGRES_ADMIN_URL, make_settings

pytestmark = [pytest.mark.ops, pytest.mark.postgres]

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "backup" / "verify-backup.sh"
BASTION = Path(sys.executable).parent / "bastion"
APP = "examples.taskboard.app:app"


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def prepare(url: str, *, upgrade_to: str, seed: bool) -> None:
    app = build(make_settings(url))
    state = bastion_state(app)
    await migrations.upgrade(state.db, state.migration_dirs, upgrade_to)
    if seed:
        async with state.db.session() as session:
            await demo_project(session)
    await state.db.dispose()


def dump(url: str, directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "taskboard.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(path), libpq(url)], check=True, timeout=60)
    return path


def verify(backups: Path, min_rows: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {
        "BACKUP_DIR": str(backups),
        "SCRATCH_ADMIN_URL": POSTGRES_ADMIN_URL,
        "BASTION_APP": APP,
        "BASTION": str(BASTION),
        "MIN_ROWS": min_rows,
    }
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPT.parents[2],
    )


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("pg_dump", "pg_restore", "psql"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def scratch_databases() -> set[str]:
    listed = subprocess.run(
        ["psql", POSTGRES_ADMIN_URL, "-At", "-c", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {name for name in listed.stdout.split() if name.startswith("verify_")}


def test_a_good_backup_restores_and_passes(postgres_url: str, tmp_path: Path) -> None:
    asyncio.run(prepare(postgres_url, upgrade_to="heads", seed=True))
    dump(postgres_url, tmp_path / "backups")
    before = scratch_databases()
    result = verify(tmp_path / "backups", "taskboard_projects=1,taskboard_tasks=3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   schema at the migration head" in result.stdout
    assert "ok   taskboard_tasks has 3 rows (at least 3)" in result.stdout
    assert scratch_databases() == before  # the scratch database is gone


def test_missing_rows_and_old_schema_fail(postgres_url: str, tmp_path: Path) -> None:
    asyncio.run(prepare(postgres_url, upgrade_to="bastion@head", seed=False))
    dump(postgres_url, tmp_path / "backups")
    result = verify(tmp_path / "backups", "bastion_maintenance=1,taskboard_tasks=1")
    assert result.returncode == 1
    assert "FAIL schema is not at the migration head" in result.stdout
    assert "FAIL bastion_maintenance has 0 rows, fewer than 1" in result.stdout
    assert "FAIL taskboard_tasks" in result.stdout  # the table is not there at all


def test_no_dump_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = verify(tmp_path / "empty", "")
    assert result.returncode == 1
    assert "no dump found" in result.stderr
