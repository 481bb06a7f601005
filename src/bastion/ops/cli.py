"""``bastion ops``: operations switches."""

from __future__ import annotations

from typing import Annotated

import typer

from bastion.core.cli import CliContext, run_async
from bastion.core.db import Database
from bastion.ops.maintenance import Maintenance, read_switch, write_switch
from bastion.ops.slo.cli import slo_app

ops_app = typer.Typer(help="Operations: maintenance mode, SLOs.", no_args_is_help=True)
maintenance_app = typer.Typer(
    help="Maintenance mode, shared by every process.", no_args_is_help=True
)
ops_app.add_typer(maintenance_app, name="maintenance")
ops_app.add_typer(slo_app, name="slo")


def _database(ctx: typer.Context) -> Database:
    cli: CliContext = ctx.obj
    return Database.from_settings(cli.settings)


async def _write(db: Database, state: Maintenance) -> None:
    try:
        await write_switch(db, state)
    finally:
        await db.dispose()


def _describe(state: Maintenance) -> str:
    if not state.enabled:
        return "maintenance: off"
    mode = "read-only" if state.read_only else "full"
    return f"maintenance: on ({mode}, Retry-After {state.retry_after}s) {state.message}".rstrip()


@maintenance_app.command()
def on(
    ctx: typer.Context,
    read_only: Annotated[bool, typer.Option(help="Let GET/HEAD/OPTIONS through.")] = False,
    message: Annotated[str, typer.Option(help="Shown in the 503 problem's detail.")] = "",
    retry_after: Annotated[int, typer.Option(min=1, help="Retry-After, in seconds.")] = 300,
) -> None:
    """Answer 503 to every non-exempt request, in every process, within seconds."""
    state = Maintenance(True, read_only, message, retry_after)
    db = _database(ctx)
    run_async(lambda: _write(db, state))
    typer.echo(_describe(state))


@maintenance_app.command()
def off(ctx: typer.Context) -> None:
    """Serve normally again."""
    db = _database(ctx)
    run_async(lambda: _write(db, Maintenance()))
    typer.echo(_describe(Maintenance()))


@maintenance_app.command()
def status(ctx: typer.Context) -> None:
    """Show the switch as the processes will read it."""
    db = _database(ctx)

    async def read() -> Maintenance:
        try:
            return await read_switch(db)
        finally:
            await db.dispose()

    typer.echo(_describe(run_async(read)))
