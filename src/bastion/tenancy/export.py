"""Export one tenant's rows to a file, and import them into another database.

The file is a tar archive: one ``tables/<name>.jsonl.gz`` per table, then
``manifest.json`` (tenant, schema revisions, and per table its row count and
the SHA-256 of its uncompressed JSON lines). Rows are streamed from a
server-side cursor and written as they come, so memory stays flat for a tenant
of any size; an import checks every count and hash before it commits.

Which rows (:func:`plan`): the tenant's own row; rows of every table with a
foreign key to it (``tenant_id``, ``org_id``); rows of tables reached from those
through a foreign key (team members through teams, say); and, as *shared* rows,
the rows those point to outside the tenant (the member users), which an import
adds only when absent. Shared rows hold account data: protect the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import MetaData, Table, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bastion.core.db import Database
from bastion.core.db.upsert import insert_for
from bastion.tenancy.codec import decode_row, row_line
from bastion.tenancy.scoping import TENANT_TABLE

FORMAT = 1
BATCH = 1000
COMPRESSION = 6  # gzip's usual trade-off; 9 costs about twice the CPU for little
MANIFEST = "manifest.json"
Progress = Callable[[str, int], None]


class ExportError(ValueError):
    """A file that cannot be imported here; the message says why."""


@dataclass(frozen=True)
class Part:
    """One table of an export: the tenant's rows, or the shared rows they use."""

    table: Table
    where: ColumnElement[bool]
    shared: bool = False


def plan(metadata: MetaData, tenant: uuid.UUID) -> list[Part]:
    """The tables of a tenant's export and how each is filtered, parents first."""
    owned: dict[Table, ColumnElement[bool]] = {}
    for table in metadata.sorted_tables:
        condition = _owned(table, tenant, owned)
        if condition is not None:
            owned[table] = condition
    shared: dict[Table, list[ColumnElement[bool]]] = {}
    for child, condition in owned.items():
        for fk in child.foreign_keys:
            if fk.column.table not in owned:
                refs = fk.column.in_(select(fk.parent).where(condition))
                shared.setdefault(fk.column.table, []).append(refs)
    return [
        Part(table, or_(*shared[table]), shared=True)
        if table in shared
        else Part(table, owned[table])
        for table in metadata.sorted_tables
        if table in shared or table in owned
    ]


def _owned(
    table: Table, tenant: uuid.UUID, owned: dict[Table, ColumnElement[bool]]
) -> ColumnElement[bool] | None:
    if table.name == TENANT_TABLE:
        return table.c.id == tenant
    for fk in table.foreign_keys:
        if fk.column.table.name == TENANT_TABLE:
            return fk.parent == tenant
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent in owned and not fk.parent.nullable:
            return fk.parent.in_(select(fk.column).where(owned[parent]))
    return None


async def _bypass_rls(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT set_config('bastion.bypass_tenancy', 'on', true)"))


async def export_tenant(
    db: Database,
    metadata: MetaData,
    tenant: uuid.UUID,
    out: Path,
    revisions: Sequence[str],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the tenant's rows to ``out``; the manifest."""
    tables: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp, tarfile.open(out, "w") as tar:
        async with db.engine.connect() as connection:
            await _bypass_rls(connection)
            for part in plan(metadata, tenant):
                path = Path(tmp) / f"{part.table.name}.jsonl.gz"
                digest, rows = hashlib.sha256(), 0
                names = [column.name for column in part.table.columns]
                with gzip.open(path, "wb", compresslevel=COMPRESSION) as sink:
                    query = select(part.table).where(part.where)
                    result = await connection.stream(query.execution_options(yield_per=BATCH))
                    async for batch in result.partitions(BATCH):
                        chunk = b"".join(row_line(names, row) for row in batch)
                        digest.update(chunk)
                        sink.write(chunk)
                        rows += len(batch)
                        if progress:
                            progress(part.table.name, len(batch))
                tar.add(path, arcname=f"tables/{part.table.name}.jsonl.gz")
                path.unlink()
                tables[part.table.name] = {
                    "rows": rows,
                    "sha256": digest.hexdigest(),
                    "shared": part.shared,
                }
        manifest = {
            "format": FORMAT,
            "tenant_id": str(tenant),
            "revisions": sorted(revisions),
            "tables": tables,
        }
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path) as tar:
            return dict(json.load(_member(tar, MANIFEST)))
    except (tarfile.TarError, json.JSONDecodeError) as exc:
        raise ExportError(f"not an export archive ({exc})") from exc


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise ExportError(f"{name} is missing from the export file")
    return member


async def import_tenant(
    db: Database,
    metadata: MetaData,
    path: Path,
    revisions: Sequence[str],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore an export into ``db`` in one transaction; the manifest. The database
    must be at the export's schema revisions; a count or hash that differs from
    the manifest rolls everything back."""
    with tarfile.open(path) as tar:
        manifest = json.load(_member(tar, MANIFEST))
        if manifest.get("format") != FORMAT:
            raise ExportError(f"unknown export format {manifest.get('format')!r}")
        if sorted(revisions) != manifest["revisions"]:
            raise ExportError(
                f"the database is at {', '.join(sorted(revisions)) or 'no revision'}; the "
                f"export needs {', '.join(manifest['revisions'])} (run 'bastion db upgrade')"
            )
        known = {table.name: table for table in metadata.sorted_tables}
        async with db.engine.begin() as connection:
            await _bypass_rls(connection)
            tenants = known[TENANT_TABLE]
            tenant = uuid.UUID(manifest["tenant_id"])
            if await connection.scalar(select(tenants.c.id).where(tenants.c.id == tenant)):
                raise ExportError(f"organization {tenant} already exists in this database")
            for name, expected in manifest["tables"].items():
                table = known.get(name)
                if table is None:
                    raise ExportError(f"the export holds table {name!r}, unknown to this app")
                try:
                    with gzip.open(_member(tar, f"tables/{name}.jsonl.gz")) as source:
                        rows, digest = await _restore(connection, table, source, expected, progress)
                except (OSError, EOFError, json.JSONDecodeError) as exc:
                    raise ExportError(f"{name}: unreadable rows ({exc})") from exc
                if rows != expected["rows"] or digest != expected["sha256"]:
                    raise ExportError(f"{name}: the rows do not match the manifest")
    return dict(manifest)


async def _restore(
    connection: AsyncConnection,
    table: Table,
    source: Iterable[bytes],
    expected: dict[str, Any],
    progress: Progress | None,
) -> tuple[int, str]:
    statement: Any = insert(table)
    if expected.get("shared"):
        statement = insert_for(connection.dialect.name)(table).on_conflict_do_nothing()
    digest, rows, batch = hashlib.sha256(), 0, []
    for line in source:
        digest.update(line)
        batch.append(decode_row(table, json.loads(line)))
        if len(batch) == BATCH:
            await connection.execute(statement, batch)
            rows += len(batch)
            if progress:
                progress(table.name, len(batch))
            batch = []
    if batch:
        await connection.execute(statement, batch)
        rows += len(batch)
        if progress:
            progress(table.name, len(batch))
    return rows, digest.hexdigest()
