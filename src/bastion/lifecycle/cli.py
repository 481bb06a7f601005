"""``bastion db``: migrations and seed data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bastion.core.cli import CliContext, fail, with_database
from bastion.core.db import Database
from bastion.lifecycle import migrations
from bastion.lifecycle.service import run_seeders

db_app = typer.Typer(help="Database migrations and seed data.", no_args_is_help=True)
T = TypeVar("T")


def _with_db(ctx: typer.Context, action: Callable[[Database, CliContext], Awaitable[T]]) -> T:
    cli: CliContext = ctx.obj
    return with_database(cli, lambda db: action(db, cli))


@db_app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply migrations up to REVISION (default: every head)."""

    async def go(db: Database, cli: CliContext) -> migrations.MigrationStatus:
        await migrations.upgrade(db, cli.migration_dirs, revision)
        return await migrations.status(db, cli.migration_dirs)

    state = _with_db(ctx, go)
    typer.echo(f"database at {', '.join(state.current) or 'base'}")


@db_app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base' for none.")],
) -> None:
    """Revert migrations down to REVISION."""

    async def go(db: Database, cli: CliContext) -> migrations.MigrationStatus:
        await migrations.downgrade(db, revision, cli.migration_dirs)
        return await migrations.status(db, cli.migration_dirs)

    state = _with_db(ctx, go)
    typer.echo(f"database at {', '.join(state.current) or 'base'}")


@db_app.command()
def status(ctx: typer.Context) -> None:
    """Show the current revision, the heads and the pending migrations."""
    state = _with_db(ctx, lambda db, cli: migrations.status(db, cli.migration_dirs))
    table = Table(show_header=False, box=None)
    table.add_row("current", ", ".join(state.current) or "base")
    table.add_row("head", ", ".join(state.heads))
    table.add_row("pending", ", ".join(state.pending) or "none")
    table.add_row("state", "up to date" if state.at_head else "needs 'bastion db upgrade'")
    Console().print(table)
    if not state.at_head:
        raise typer.Exit(3)


@db_app.command()
def revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision does.")],
    autogenerate: Annotated[
        bool, typer.Option("--autogenerate/--empty", help="Diff the models against the database.")
    ] = True,
) -> None:
    """Create a revision in the app's migrations directory (needs --app)."""
    cli: CliContext = ctx.obj
    cli.require_app()
    dirs = cli.migration_dirs
    if not dirs:
        fail("the app has no migrations directory: create_app(..., migrations=Path(...))")
    app_dir: Path = dirs[-1]
    path = _with_db(
        ctx, lambda db, _: migrations.revision(db, message, app_dir, autogenerate=autogenerate)
    )
    typer.echo(f"wrote {path}")


@db_app.command()
def seed(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(help="Run seeders that already ran.")] = False,
) -> None:
    """Run the app's seeders that have not run against this database."""
    result = _with_db(ctx, lambda db, cli: run_seeders(db, cli.seeders, force=force))
    for name in result.applied:
        typer.echo(f"applied {name}")
    for name in result.skipped:
        typer.echo(f"skipped {name} (already applied)")
    if not result.applied and not result.skipped:
        typer.echo("no seeders registered")
