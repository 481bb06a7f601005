"""Tenant export → import into an empty database reproduces every row; a
tampered file or another schema revision imports nothing."""

from __future__ import annotations

import gzip
import io
import tarfile
import uuid

import pytest
from sqlalchemy import func, select

from bastion import Database, bastion_state
from bastion.lifecycle import migrations
from bastion.tenancy import bypass_tenancy
from bastion.tenancy.export import ExportError, export_tenant, import_tenant, plan
from examples.taskboard.app import MIGRATIONS, build
from tests.conftest import FAST_HASHING, make_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.tenancy]


@pytest.fixture
async def exported(client_for, database_url, tmp_path):
    app = build(make_settings(database_url, **FAST_HASHING))
    a = await client_for(app)
    b = await client_for(app, migrate=False)
    org = await sign_in_to_new_org(a, "a@example.com", "A")
    await sign_in_to_new_org(b, "b@example.com", "B")
    await a.post(f"/orgs/{org}/teams", json={"name": "core"})
    await a.post(f"/orgs/{org}/invitations", json={"email": "c@example.com", "role": "member"})
    for client in (a, b):
        project = (await client.post("/projects", json={"name": "p"})).json()["id"]
        for i in range(25):
            await client.post(f"/projects/{project}/tasks", json={"title": f"t{i}"})
    db = bastion_state(app).db
    status = await migrations.status(db, [MIGRATIONS])
    out = tmp_path / "a.tar"
    manifest = await export_tenant(
        db, migrations.target_metadata(), uuid.UUID(org), out, status.current
    )
    return db, uuid.UUID(org), out, manifest, status.current


async def rows_of(db: Database, tenant: uuid.UUID) -> dict[str, list[tuple]]:
    found = {}
    with bypass_tenancy("test: compare exports"):
        async with db.engine.connect() as connection:
            for part in plan(migrations.target_metadata(), tenant):
                query = select(part.table).where(part.where)
                rows = (await connection.execute(query)).all()
                found[part.table.name] = sorted(tuple(map(str, row)) for row in rows)
    return found


async def fresh_database(url: str) -> Database:
    db = Database(url)
    await migrations.upgrade(db, [MIGRATIONS])
    return db


async def test_import_into_an_empty_database_reproduces_the_tenant(exported, tmp_path, sqlite_url):
    db, tenant, out, manifest, revisions = exported
    tables = manifest["tables"]
    assert tables["taskboard_tasks"]["rows"] == 25  # org B's tasks stayed out
    assert tables["bastion_orgs"]["rows"] == 1
    assert tables["bastion_users"] == {**tables["bastion_users"], "rows": 1, "shared": True}
    assert {"bastion_org_members", "bastion_org_invitations", "bastion_org_teams"} <= set(tables)
    target = await fresh_database(f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}")
    try:
        await import_tenant(target, migrations.target_metadata(), out, revisions)
        assert await rows_of(target, tenant) == await rows_of(db, tenant)
        async with target.engine.connect() as connection:
            orgs = await connection.scalar(
                select(func.count()).select_from(
                    migrations.target_metadata().tables["bastion_orgs"]
                )
            )
        assert orgs == 1
    finally:
        await target.dispose()


async def test_a_tampered_file_imports_nothing(exported, tmp_path):
    _db, _tenant, out, _manifest, revisions = exported
    forged = tmp_path / "forged.tar"
    with tarfile.open(out) as source, tarfile.open(forged, "w") as sink:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "tables/taskboard_tasks.jsonl.gz":
                data = gzip.compress(gzip.decompress(data).replace(b'"t1"', b'"t9"', 1))
                member.size = len(data)
            sink.addfile(member, io.BytesIO(data))
    target = await fresh_database(f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}")
    try:
        with pytest.raises(ExportError, match="taskboard_tasks"):
            await import_tenant(target, migrations.target_metadata(), forged, revisions)
        async with target.engine.connect() as connection:
            users = migrations.target_metadata().tables["bastion_users"]
            assert await connection.scalar(select(func.count()).select_from(users)) == 0
    finally:
        await target.dispose()


async def test_another_schema_revision_is_refused(exported, tmp_path):
    _db, _tenant, out, _manifest, _revisions = exported
    target = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        with pytest.raises(ExportError, match="bastion db upgrade"):
            await import_tenant(target, migrations.target_metadata(), out, ["bastion_0001"])
    finally:
        await target.dispose()
