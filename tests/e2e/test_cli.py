"""The ``bastion`` command as a user runs it: a subprocess against the taskboard app."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion import Database
from bastion.lifecycle import migrations
from tests.conftest import TEST_SECRET

pytestmark = [pytest.mark.cli]

REPO_ROOT = Path(__file__).resolve().parents[2]
BASTION = Path(sys.executable).parent / "bastion"
TASKBOARD = "examples.taskboard.app:app"
ALL_REVISIONS = ("bastion_0001", "bastion_0002", "bastion_0006", "taskboard_0001")
TASKBOARD_MIGRATIONS = REPO_ROOT / "examples" / "taskboard" / "migrations" / "versions"


def bastion(
    *args: str, database_url: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``bastion ARGS`` from the repository root with test settings.

    No BASTION_* variable of the caller's environment leaks in; ``env`` overrides
    the settings, and an empty value removes the variable.
    """
    assert BASTION.is_file(), f"console script not installed at {BASTION}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    environment |= {
        "BASTION_APP": TASKBOARD,
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_DATABASE_URL": database_url,
    }
    for name, value in env.items():
        if value:
            environment[name] = value
        else:
            environment.pop(name, None)
    return subprocess.run(
        [str(BASTION), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 1 with a single 'error:' line and no traceback; return that line."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = error_lines(result)
    assert len(lines) == 1, output
    return lines[0]


def table_names(url: str) -> set[str]:
    async def read() -> set[str]:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await db.dispose()
        return set(names) - {"alembic_version"}

    return asyncio.run(read())


def project_names(url: str) -> list[str]:
    async def read() -> list[str]:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT name FROM taskboard_projects"))
                return [row[0] for row in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def upgrade_taskboard(url: str) -> None:
    """Set-up, in-process: cheaper than another ``bastion db upgrade``."""

    async def upgrade() -> None:
        db = Database(url)
        try:
            await migrations.upgrade(db, [TASKBOARD_MIGRATIONS])
        finally:
            await db.dispose()

    asyncio.run(upgrade())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- bastion db ---------------------------------------------------------------------------------


def test_db_workflow(database_url: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return bastion(*args, database_url=database_url)

    fresh = run("db", "status")
    assert fresh.returncode == 3, fresh.stderr
    assert "needs 'bastion db upgrade'" in fresh.stdout
    assert all(rev in fresh.stdout for rev in ALL_REVISIONS)

    upgraded = run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "taskboard_0001" in upgraded.stdout
    assert "bastion_0006" in upgraded.stdout
    assert table_names(database_url) == {
        "bastion_jobs",
        "bastion_job_ticks",
        "bastion_maintenance",
        "bastion_seed_runs",
        "taskboard_projects",
        "taskboard_tasks",
    }

    current = run("db", "status")
    assert current.returncode == 0, current.stderr
    assert "up to date" in current.stdout

    seeded = run("db", "seed")
    assert seeded.returncode == 0, seeded.stderr
    assert "applied taskboard.demo_project" in seeded.stdout
    again = run("db", "seed")
    assert again.returncode == 0, again.stderr
    assert "skipped taskboard.demo_project (already applied)" in again.stdout
    assert "applied" not in again.stdout.replace("already applied", "")
    forced = run("db", "seed", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "applied taskboard.demo_project" in forced.stdout
    # The demo seeder is idempotent: forcing it does not duplicate the project.
    assert project_names(database_url) == ["Launch"]

    downgraded = run("db", "downgrade", "base")
    assert downgraded.returncode == 0, downgraded.stderr
    assert "database at base" in downgraded.stdout
    assert table_names(database_url) == set()
    pending = run("db", "status")
    assert pending.returncode == 3
    assert all(rev in pending.stdout for rev in ALL_REVISIONS)

    reupgraded = run("db", "upgrade")
    assert reupgraded.returncode == 0, reupgraded.stderr
    assert "taskboard_0001" in reupgraded.stdout
    assert "bastion_0006" in reupgraded.stdout
    assert "taskboard_projects" in table_names(database_url)


# --- bastion openapi export ---------------------------------------------------------------------


def assert_taskboard_document(document: dict[str, object]) -> None:
    assert document["info"]["title"] == "Taskboard"  # type: ignore[index]
    paths = document["paths"]
    assert isinstance(paths, dict)
    assert {"/projects", "/projects/{project_id}", "/livez", "/readyz"} <= set(paths)
    assert {"get", "post"} <= set(paths["/projects"])


def test_openapi_export_to_file(sqlite_url: str, tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = bastion("openapi", "export", "-o", str(target), database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    assert_taskboard_document(json.loads(target.read_text()))


def test_openapi_export_to_stdout_is_pure_json(sqlite_url: str) -> None:
    """``bastion openapi export > openapi.json`` must not mix logs into the document."""
    result = bastion("openapi", "export", database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert_taskboard_document(json.loads(result.stdout))


# --- failures: one clear line, no traceback -----------------------------------------------------

PRODUCTION = {
    "BASTION_ENV": "production",
    "BASTION_SECRET_KEY": "",  # unset: the built-in default applies
    "BASTION_ALLOW_SQLITE_IN_PRODUCTION": "true",
    "BASTION_DOCS_ENABLED": "false",
}


@pytest.mark.parametrize("command", ["db status", "serve"])
def test_production_refuses_default_secret(sqlite_url: str, command: str) -> None:
    args = command.split()
    if args == ["serve"]:
        args += ["--port", str(free_port())]
    result = bastion(*args, database_url=sqlite_url, timeout=30, **PRODUCTION)
    line = assert_one_line_failure(result)
    assert "core.E001" in line
    assert "BASTION_SECRET_KEY" in line


def test_production_runs_with_a_real_secret(sqlite_url: str) -> None:
    """The refusal above is about the secret: with one set, production works."""
    settings = PRODUCTION | {"BASTION_SECRET_KEY": "p" * 48}
    result = bastion("db", "status", database_url=sqlite_url, **settings)
    assert result.returncode == 3, result.stderr
    assert "error:" not in result.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--app", "nope.module:app", "db", "status"], "nope.module"),
        (["serve", "nope.module:app"], "nope.module"),
        (["--app", "examples.taskboard.app:nope", "db", "status"], "nope"),
        (["--app", "no-colon", "db", "status"], "no-colon"),
    ],
    ids=["db-status", "serve", "missing-attribute", "malformed"],
)
def test_bad_app_path(sqlite_url: str, args: list[str], named: str) -> None:
    result = bastion(*args, database_url=sqlite_url, timeout=30)
    line = assert_one_line_failure(result)
    assert named in line


@pytest.mark.parametrize(
    "command",
    [
        "db status",
        "db upgrade",
        "db downgrade base",
    ],
)
def test_database_at_a_revision_the_code_does_not_know(sqlite_url: str, command: str) -> None:
    """The app's history is applied, but the command runs without the app (no BASTION_APP)."""
    upgrade_taskboard(sqlite_url)
    result = bastion(*command.split(), database_url=sqlite_url, BASTION_APP="")
    line = assert_one_line_failure(result)
    assert "taskboard_0001" in line


@pytest.mark.parametrize("command", ["db status", "db upgrade"])
def test_unreachable_database(command: str) -> None:
    url = "postgresql+asyncpg://postgres:s3cret-pw@127.0.0.1:1/x"
    result = bastion(*command.split(), database_url=url)
    line = assert_one_line_failure(result)
    assert "Connect" in line or "refused" in line.lower()
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [("BASTION_LOG__LEVEL", "LOUD", "log.level"), ("BASTION_HTTP__MAX_BODY_BYTES", "-5", "http")],
)
def test_invalid_setting_is_one_line_naming_it(
    sqlite_url: str, variable: str, value: str, named: str
) -> None:
    result = bastion("db", "status", database_url=sqlite_url, **{variable: value})
    line = assert_one_line_failure(result)
    assert "invalid settings" in line
    assert named in line
