"""``bastion tenants``: export one organization's data, and import it elsewhere."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, TaskID

from bastion.core.cli import CliContext, fail, with_database
from bastion.core.db import Database
from bastion.lifecycle import migrations
from bastion.tenancy.export import ExportError, export_tenant, import_tenant, read_manifest

tenants_app = typer.Typer(help="Tenant (organization) data.", no_args_is_help=True)


class _Bar:
    """A rich progress line per table, advanced as batches stream through."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, table: str, rows: int) -> None:
        if table not in self.tasks:
            self.tasks[table] = self.progress.add_task(table, total=None)
        self.progress.advance(self.tasks[table], rows)


@tenants_app.command("export")
def export(
    ctx: typer.Context,
    org_id: Annotated[str, typer.Argument(help="The organization's id.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (a tar archive).")],
) -> None:
    """Write every row of one organization to OUT, with a manifest of counts and hashes."""
    cli: CliContext = ctx.obj
    cli.require_app()  # its models say which tables exist
    try:
        tenant = uuid.UUID(org_id)
    except ValueError:
        fail(f"ORG_ID must be an organization id (a UUID), not {org_id!r}")
    if not out.parent.is_dir():
        fail(f"--out: directory {out.parent} does not exist")

    async def go(db: Database) -> dict[str, Any]:
        status = await migrations.status(db, cli.migration_dirs)
        if status.pending:
            fail("the database is not up to date: run 'bastion db upgrade' first")
        with Progress(transient=True) as progress:
            return await export_tenant(
                db, migrations.target_metadata(), tenant, out, status.current, _Bar(progress)
            )

    manifest = with_database(cli, go)
    tables = manifest["tables"]
    if tables.get("bastion_orgs", {}).get("rows") != 1:
        out.unlink(missing_ok=True)
        fail(f"no organization has the id {tenant}")
    rows = sum(table["rows"] for table in tables.values())
    typer.echo(f"exported {rows} rows of {len(tables)} tables to {out}")


@tenants_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A file written by 'bastion tenants export'.")],
) -> None:
    """Restore an export into this database (at the same schema revisions)."""
    cli: CliContext = ctx.obj
    cli.require_app()
    if not file.is_file():
        fail(f"{file} is not a file")
    try:
        read_manifest(file)
    except (ExportError, OSError, ValueError) as exc:
        fail(f"{file} is not a tenant export: {exc}")

    async def go(db: Database) -> dict[str, Any]:
        status = await migrations.status(db, cli.migration_dirs)
        with Progress(transient=True) as progress:
            return await import_tenant(
                db, migrations.target_metadata(), file, status.current, _Bar(progress)
            )

    try:
        manifest = with_database(cli, go)
    except ExportError as exc:
        fail(f"nothing imported: {exc}")
    rows = sum(table["rows"] for table in manifest["tables"].values())
    typer.echo(f"imported {rows} rows of tenant {manifest['tenant_id']}")
